"""Exceptions. Any of them reaching a check turns into an ``error`` result, never a pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


# The attribute ``reading`` sets on an exception: the file being read when it was raised.
_FILE_ATTRIBUTE = "fipscheck_file"


@contextmanager
def reading(path: str) -> Iterator[None]:
    """Marks any exception raised inside with the file being read (the innermost ``reading``
    wins), so that an error names the file even when the exception itself does not (a
    MemoryError or a RecursionError from a parser has no message at all)."""
    try:
        yield
    except Exception as error:
        mark_file(error, path)
        raise


def mark_file(error: BaseException, path: str) -> None:
    """Records ``path`` as the file being read when ``error`` was raised, unless a more
    precise (inner) one was recorded already."""
    if getattr(error, _FILE_ATTRIBUTE, None) is None:
        with suppress(AttributeError):  # an exception without __dict__: its message must do
            setattr(error, _FILE_ATTRIBUTE, path)


def file_being_read(error: BaseException) -> str | None:
    """The file ``reading`` recorded on the exception, if any."""
    return getattr(error, _FILE_ATTRIBUTE, None)


def describe(error: BaseException) -> str:
    """One line for an error result: the exception's type, the file being read and its
    message, e.g. ``MemoryError while reading /usr/bin/app`` (an empty message is common)."""
    text = f"{type(error).__name__}"
    path = file_being_read(error)
    message = str(error)
    if path is not None and path not in message:
        text += f" while reading {path}"
    return f"{text}: {message}" if message else text
