"""Exceptions. Any of them reaching a check turns into an ``error`` result, never a pass."""


class FipscheckError(Exception):
    """Base class of fipscheck's own errors."""


class TargetError(FipscheckError):
    """The target cannot be reached or prepared (no engine, no such image, unreadable root)."""


class EvidenceError(FipscheckError):
    """A probe could not gather the evidence a check needs."""


class RootEscapeError(EvidenceError):
    """A path or symlink inside a scanned root could not be resolved inside that root."""


class NotApplicableError(FipscheckError):
    """The target cannot offer what a check needs by its nature (a remote host's filesystem,
    say): the check is skipped with this reason. Not for evidence that should be there and
    could not be read: that is an EvidenceError."""
