"""Interrupts (Ctrl-C, SIGTERM) around the resources fipscheck creates: a SIGTERM ends a run
as Ctrl-C does, so cleanup runs; an interrupt can be held while a resource is being created,
so it never falls between the resource existing and us holding it; and cleanup itself is
shielded, so a second Ctrl-C does not cut a container's removal short. No Docker here: the
CLI and the plugin install these before any target is opened."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
GIVE_UP_AFTER = 2  # interrupts held during cleanup: the second leaves the rest to `fipscheck cleanup`


class Interrupted(KeyboardInterrupt):
    """An interrupt by a signal other than Python's own SIGINT handling (SIGTERM), or one
    held during cleanup; ``signum`` tells which (the exit code is 128 + signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """130 for SIGINT (Ctrl-C), 143 for SIGTERM: what a shell reports for a process they end."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def signal_name(interrupt: KeyboardInterrupt) -> str:
    return signal.Signals(getattr(interrupt, "signum", signal.SIGINT)).name


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGALRM (the scan's --timeout, see deadline.py) in the main
    thread for the duration: they are delivered when it ends. Used around container creation,
    where an interrupt could otherwise fall between the engine making the container and us
    holding it."""
    if not _main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {*SIGNALS, signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_shield_depth = 0
_held: list[int] = []


@contextmanager
def cleanup_shielded() -> Iterator[None]:
    """Run cleanup (removing containers and files) to its end through interrupts: SIGINT and
    SIGTERM arriving meanwhile are noted and raised as Interrupted once it is done; the second
    one gives up at once (what is left stays recorded for the next run)."""
    global _shield_depth
    if not _main_thread():
        yield
        return
    outermost = _shield_depth == 0
    previous = {sig: signal.signal(sig, _hold) for sig in SIGNALS} if outermost else {}
    _shield_depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _shield_depth -= 1
        if outermost:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            held, _held[:] = list(_held), []
            if held and not failed:
                raise Interrupted(held[0])


def _hold(signum: int, frame: object) -> None:
    _held.append(signum)
    if len(_held) >= GIVE_UP_AFTER:
        raise Interrupted(_held[0])
    if len(_held) == 1:
        print("fipscheck: interrupted; removing what this run created first (interrupt once "
              "more to leave it to `fipscheck cleanup`)", file=sys.stderr, flush=True)


def sigterm_as_interrupt() -> None:
    """Make SIGTERM (CI cancelling a job, ``kill``) end the run as Ctrl-C does, so the
    targets' cleanup still removes their containers. Left alone outside the main thread and
    when someone else installed a handler."""
    if _main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)
