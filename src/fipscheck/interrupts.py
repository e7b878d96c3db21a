"""Interrupts (Ctrl-C, SIGTERM) around the resources fipscheck creates: a SIGTERM ends a run
as Ctrl-C does, so cleanup runs; and an interrupt can be held while a resource is being
created, so it never falls between the resource existing and us holding it. No Docker here:
the CLI and the plugin install these before any target is opened."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGALRM (the scan's --timeout, see deadline.py) in the main
    thread for the duration: they are delivered when it ends. Used around container creation,
    where an interrupt could otherwise fall between the engine making the container and us
    holding it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK,
                                      {signal.SIGINT, signal.SIGTERM, signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def sigterm_as_interrupt() -> None:
    """Make SIGTERM (CI cancelling a job, ``kill``) end the run as Ctrl-C does, so the
    targets' cleanup still removes their containers. Left alone outside the main thread and
    when someone else installed a handler."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
