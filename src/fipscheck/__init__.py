"""fipscheck: prove that a container image, a root filesystem or a host runs FIPS 140
cryptography, with evidence for every verdict."""

from __future__ import annotations

from .errors import EvidenceError, FipscheckError, NotCompliantError, TargetError
from .inprocess import require, status
from .model import CheckResult, Report, Status
from .policy import Policy
from .runner import scan

__version__ = "0.1.0"

__all__ = ["CheckResult", "EvidenceError", "FipscheckError", "NotCompliantError", "Policy",
           "Report", "Status", "TargetError", "require", "scan", "status"]
