"""One progress line on stderr for slow steps (pulling and fetching images): rewritten in
place on a terminal; elsewhere (CI logs) only its first and last state are printed, once each."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
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
        prefix = "\r\x1b[K" if self._tty else ""
        self._stream.write(f"{prefix}fipscheck: {text}{chr(10) if final else ''}")
        self._stream.flush()
