"""Timing commands fairly on a shared machine: every command runs in its own process (its
start-up included, as a user sees it), the commands of one comparison run interleaved round
after round (the order rotating), the first round is a warm-up that is not counted, and a
ratio is the median of the per-round ratios (paired), so a noisy minute hits both sides.

Peak memory is the largest proportional set size the command's process tree had at once,
sampled every 10 ms from /proc (worker processes included, pages they share with their
parent counted once). Not ``ru_maxrss``: it counts the pages of this process that the child
had between fork and exec."""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)  # bytes
    cpu: list[float] = field(default_factory=list)  # user + system seconds, children included
    output: str = ""  # stdout of the last run

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mib(self) -> float:
        return max(self.peak_rss) / (1 << 20)


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pending += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return found


def _tree_memory(pid: int) -> int:
    """The process tree's proportional set size: pages shared by a parent and its forked
    workers are counted once in all, not once per process as resident sets would."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_once(argv: Sequence[str], env: dict[str, str] | None = None,
             cwd: str | None = None) -> tuple[float, int, float, str]:
    """(seconds, peak RSS in bytes, CPU seconds, stdout) of one run; raises on a crash
    (an exit status other than 0, 1 or 2)."""
    peak = [0]
    started = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=cwd)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _tree_memory(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.append(s.read()))
               for s, into in ((process.stdout, out), (process.stderr, err))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    done.set()
    for reader in readers:
        reader.join()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1, 2):
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: "
                           f"{b''.join(err).decode(errors='replace')[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime  # wait4 counts the waited-for descendants too
    return (elapsed, peak[0], cpu,
            b"".join(out).decode(errors="replace"))


def interleaved(commands: dict[str, Sequence[str]], repeat: int, warmup: int = 1,
                **kwargs) -> dict[str, Runs]:
    """Run every command ``warmup + repeat`` times, interleaved, rotating the order."""
    runs = {name: Runs() for name in commands}
    names = list(commands)
    for round_no in range(warmup + repeat):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, rss, cpu, out = run_once(commands[name], **kwargs)
            if round_no >= warmup:
                runs[name].seconds.append(seconds)
                runs[name].peak_rss.append(rss)
                runs[name].cpu.append(cpu)
                runs[name].output = out
    return runs


def paired_ratio(a: Runs, b: Runs) -> float:
    """Median of a/b over the rounds both ran in."""
    return statistics.median(x / y for x, y in zip(a.seconds, b.seconds, strict=True))
