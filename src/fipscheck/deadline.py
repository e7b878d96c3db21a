"""A time limit for a whole scan (``--timeout``): opening the target and every check.

Checks spend their time in places no single check could bound (a walk of a host, an export,
a read from a remote backend, a probe hanging inside the target), so the limit is enforced by
SIGALRM, which interrupts any of them in the main thread: the check that was running becomes
an ERROR naming the limit, the checks after it are not started (ERROR too), and the target's
resources are still removed, because cleanup runs outside the armed windows. Outside the main
thread (no signals there) the limit is checked between checks only.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class ScanTimeout(BaseException):
    """The scan's time limit ran out. Like KeyboardInterrupt, not an Exception: it can arrive
    anywhere, and no ``except Exception`` on the way may turn it into a result."""


class Deadline:
    def __init__(self, seconds: float | None = None) -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError(f"a time limit must be positive, not {seconds}")
        self.seconds = seconds
        self._ends = None if seconds is None else time.monotonic() + seconds

    @property
    def message(self) -> str:
        return f"the scan's time limit of {self.seconds:g} s (--timeout) ran out"

    def expired(self) -> bool:
        return self._ends is not None and time.monotonic() >= self._ends

    def check(self) -> None:
        """Raise ScanTimeout if the limit has passed."""
        if self.expired():
            raise ScanTimeout(self.message)

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Within, ScanTimeout is raised wherever the main thread is when the limit passes."""
        self.check()
        if self._ends is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expire(signum: int, frame: object) -> None:
            raise ScanTimeout(self.message)

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, max(self._ends - time.monotonic(), 0.001))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
