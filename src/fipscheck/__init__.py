"""fipscheck: prove that a container image, a root filesystem or a host runs FIPS 140
cryptography, with evidence for every verdict.

The public names are imported when first used (PEP 562): ``import fipscheck`` in an
application costs almost nothing, and ``fipscheck.status()`` imports only what a check of
this process needs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import EvidenceError, FipscheckError, NotCompliantError, TargetError
    from .inprocess import require, status
    from .model import CheckResult, Report, Status
    from .policy import Policy
    from .runner import scan

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {"CheckResult": "model", "EvidenceError": "errors", "FipscheckError": "errors",
           "NotCompliantError": "errors", "Policy": "policy", "Report": "model",
           "Status": "model", "TargetError": "errors", "require": "inprocess",
           "scan": "runner", "status": "inprocess"}

__all__ = ["CheckResult", "EvidenceError", "FipscheckError", "NotCompliantError", "Policy",
           "Report", "Status", "TargetError", "require", "scan", "status"]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value  # later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
