"""Progress of a long scan on stderr: which phase it is in (the check running, an export), how
many files it has gone through and how many bytes it has read. On a terminal one line is
rewritten in place and cleared at the end; elsewhere (CI logs) nothing, unless verbose, which
prints one line per finished phase with its time and counts. ``-q`` turns all of it off.

Producers (the runner, the filesystem walk, an export) call the module functions; they do
nothing until a front end installs a reporter with ``reporting``, so the library stays quiet.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

QUIET, NORMAL, VERBOSE = 0, 1, 2
_quiet = False  # -q: not even the lines of slow steps (ProgressLine)
REDRAW_EVERY = 0.1  # seconds between redraws of the terminal line


class Reporter:
    """Counts for the current phase; this base class shows nothing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.name = ""
        self.phase_started = self.started
        self.files = 0
        self.bytes = 0

    def phase(self, name: str) -> None:
        self.end_phase()
        self.name, self.phase_started, self.files, self.bytes = name, time.monotonic(), 0, 0
        self.show()

    def advance(self, files: int, size: int) -> None:
        self.files += files
        self.bytes += size
        self.show()

    def counts(self) -> str:
        """``, 1,234 files, 5.6 MiB`` (what there is of it) for the current phase."""
        if self.files:
            return f", {self.files:,} files, {_size(self.bytes)}"
        return f", {_size(self.bytes)}" if self.bytes else ""

    def show(self) -> None:
        """Draw the current state (a reporter that shows something overrides this)."""

    def end_phase(self) -> None:
        """The current phase is over (before the next starts, and at the end)."""


class TerminalReporter(Reporter):
    """One status line on a terminal, redrawn at most every REDRAW_EVERY seconds."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._drawn = 0.0

    def show(self) -> None:
        now = time.monotonic()
        if now - self._drawn < REDRAW_EVERY or self.stream is None:
            return
        self._drawn = now
        line = f"fipscheck: {self.name}{self.counts()}, {now - self.started:.0f} s"
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns - 1
        except (OSError, ValueError, AttributeError):
            width = 79
        self.stream.write("\r\x1b[K" + line[:width])
        self.stream.flush()

    def end_phase(self) -> None:
        if self.stream is not None and self._drawn:
            self.stream.write("\r\x1b[K")  # leave the terminal clean for the report
            self.stream.flush()
            self._drawn = 0.0


class LogReporter(Reporter):
    """A line per finished phase (``-v``), for logs."""

    def end_phase(self) -> None:
        if self.stream is not None and self.name:
            took = time.monotonic() - self.phase_started
            self.stream.write(f"fipscheck: {self.name}: {took:.2f} s{self.counts()}\n")
            self.stream.flush()
        self.name = ""


_reporter = Reporter()


def phase(name: str) -> None:
    """A new phase begins (the one before it is over)."""
    _reporter.phase(name)


@contextmanager
def during(name: str) -> Iterator[None]:
    """A phase within the current one (an export a check needs), which resumes after it."""
    outer = _reporter.name
    phase(name)
    try:
        yield
    finally:
        if outer:
            phase(outer)


def shows_counts() -> bool:
    """Whether the counts given to ``advance`` are shown (a front end installed a reporter):
    producers may skip the work of counting bytes otherwise."""
    return type(_reporter) is not Reporter


def advance(files: int = 0, size: int = 0) -> None:
    """``files`` more files gone through, ``size`` more bytes read, in the current phase."""
    _reporter.advance(files, size)


def finished() -> None:
    """The scan's last phase is over."""
    _reporter.end_phase()


def counted(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks of a stream (an export), counted as bytes read as they pass."""
    for chunk in chunks:
        _reporter.advance(0, len(chunk))
        yield chunk


@contextmanager
def reporting(stream: TextIO, verbosity: int = NORMAL) -> Iterator[None]:
    """Show progress on ``stream`` while inside: a live line if it is a terminal (and not
    QUIET), a line per phase when VERBOSE, nothing otherwise."""
    global _reporter, _quiet
    previous, previous_quiet = _reporter, _quiet
    _quiet = verbosity == QUIET
    if verbosity >= VERBOSE:
        _reporter = LogReporter(stream)
    elif verbosity == NORMAL and stream.isatty():
        _reporter = TerminalReporter(stream)
    try:
        yield
    finally:
        _reporter.end_phase()
        _reporter, _quiet = previous, previous_quiet


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} bytes"
    value = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


class ProgressLine:
    """One line on stderr for a slow step of opening a target (pulling, fetching an image),
    shown even where a scan's progress is not (a library call, pytest): rewritten in place
    on a terminal; elsewhere (CI logs) only its first and last state, once each."""

    def __init__(self, stream: TextIO | None = None, every: float = 0.2) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._every, self._last = every, 0.0
        self._started = False

    def update(self, text: str) -> None:
        """Show the current state (at most every ``every`` seconds on a terminal)."""
        if not self._started:
            self._started = True
            self._write(text, final=not self._tty)
            return
        now = time.monotonic()
        if self._tty and now - self._last >= self._every:
            self._last = now
            self._write(text, final=False)

    def done(self, text: str) -> None:
        """The last state, on a line of its own."""
        self._write(text, final=True)
        self._started = False

    def _write(self, text: str, final: bool) -> None:
        if _quiet:
            return
        prefix = "\r\x1b[K" if self._tty else ""
        self._stream.write(f"{prefix}fipscheck: {text}{chr(10) if final else ''}")
        self._stream.flush()
