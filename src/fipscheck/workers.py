"""An ordered map over worker processes, for the CPU-bound part of a scan (ELF analysis)
on a machine with more than one core.

Written here rather than with ``multiprocessing.Pool`` or ``concurrent.futures``: results
must come back in the order of the work (a parallel scan gives exactly the findings of a
serial one), the work must stream (a walk of 200,000 files is not collected first), and an
interrupt must end it at once, workers and all. ``Pool.terminate`` can hang when a worker
is replaced while it runs, and an executor waits for running work on shutdown. Here each
worker has one pipe; items go to the workers in turn, at most ``DEPTH`` outstanding each,
and the results are read back in the same turn, so they arrive in order.
"""

from __future__ import annotations

import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import EvidenceError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")
DEPTH = 4  # items sent ahead to each worker, so none waits while results are read
_DONE = None  # what a worker is sent to end


def ordered_map(work: Callable[[Any, T], R], setup: Callable[[], Any], items: Iterable[T],
                workers: int) -> Iterator[R]:
    """``work(state, item)`` for every item, run by ``workers`` processes, yielded in the
    order of ``items``; ``state`` is what ``setup()`` returned in the worker. ``work`` and
    ``setup`` must be importable (module-level) functions or picklable callables. An
    exception in a worker is raised here; a worker that dies is an EvidenceError. However
    this generator ends, the workers are gone when it has."""
    # fork is cheap and the children inherit the loaded modules, but it is only safe while
    # this process has a single thread (a lock another thread holds stays held in the
    # child); otherwise a fork server, started from a clean interpreter, makes them.
    import multiprocessing  # here: ``import fipscheck`` in an application does not need it

    context = (multiprocessing.get_context("fork") if threading.active_count() == 1
               else multiprocessing.get_context("forkserver"))
    processes, pipes = [], []
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, work, setup), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            pipes.append(ours)
        pending = iter(items)
        in_flight: deque[Connection] = deque()

        def send(pipe: Connection) -> None:
            for item in pending:
                pipe.send(item)
                in_flight.append(pipe)
                return

        for _ in range(DEPTH):
            for pipe in pipes:
                send(pipe)
        while in_flight:
            pipe = in_flight.popleft()
            try:
                ok, result = pipe.recv()
            except EOFError:
                raise EvidenceError("a worker process of the scan died") from None
            if not ok:
                raise result
            send(pipe)
            yield result
        for pipe in pipes:
            pipe.send(_DONE)
        for process in processes:
            process.join()
    finally:
        for process in processes:  # interrupted or failed: end them now, not after their work
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        for pipe in pipes:
            pipe.close()


def _serve(pipe: Connection, work: Callable[[Any, T], R], setup: Callable[[], Any]) -> None:
    # Ctrl-C and SIGTERM are the parent's to answer: it terminates the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    state = setup()
    try:
        while (item := pipe.recv()) is not _DONE:
            try:
                pipe.send((True, work(state, item)))
            except Exception as error:  # reported to the parent, which raises it
                try:
                    pipe.send((False, error))
                except Exception:  # the error itself cannot be pickled
                    pipe.send((False, EvidenceError(f"{type(error).__name__}: {error}")))
    except (EOFError, BrokenPipeError):
        return  # the parent closed its end first (an interrupted scan): nothing to do or say
