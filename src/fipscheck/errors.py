"""Exceptions. Any of them reaching a check turns into an ``error`` result, never a pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import CheckResult, Report


class FipscheckError(Exception):
    """Base class of fipscheck's own errors."""


class TargetError(FipscheckError):
    """The target cannot be reached or prepared (no engine, no such image, unreadable root)."""


class EvidenceError(FipscheckError):
    """A probe could not gather the evidence a check needs."""


class RootEscapeError(EvidenceError):
    """A path or symlink inside a scanned root could not be resolved inside that root."""


class NotCompliantError(FipscheckError):
    """``fipscheck.require()``: the process is not compliant; the message lists the checks
    that failed or could not be verified, ``report`` holds the whole report."""

    def __init__(self, report: Report, failed: list[CheckResult]) -> None:
        self.report = report
        self.failed = failed
        super().__init__("not FIPS compliant:\n" + "\n".join(
            f"  {r.id}: {r.status.value.upper()}: {r.message}" for r in failed))


class NotApplicableError(FipscheckError):
    """The target cannot offer what a check needs by its nature (a remote host's filesystem,
    say): the check is skipped with this reason. Not for evidence that should be there and
    could not be read: that is an EvidenceError."""
