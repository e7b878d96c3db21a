"""Benchmark (not a test): the native preflight against the seed's entrypoint check.

Inside one container of the openssl-fips reference image, times ``fips-startup-check -- true``
(loads the configuration and the FIPS provider, watches its self-tests, lists providers, runs
known-answer and refusal tests, then execs ``true``) against one ``openssl list -providers``
(which only loads the provider and lists it), in alternating batches, and prints for each the
median wall time and the CPU time (user + system) per run, and their ratios: wall time paired
by batch (median of the batches' ratios, so a busy minute hits both sides), CPU time over all
runs. On a shared machine the wall times follow the load; the CPU times do much less. The
exec of ``true`` is part of the preflight's work (``openssl list`` has none): its own wall
time is printed too. Run: .venv/bin/python bench/startup_check.py [--repeat N] [--image NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fipscheck.native import executable_path
from fipscheck.probes.native import TARGET_PATH
from fipscheck.targets import ImageTarget

if TYPE_CHECKING:
    from fipscheck.targets.base import Target

# Times each command inside the container with the shell's clock, so docker exec's own
# overhead is not part of the figure; prints one duration in nanoseconds per run.
TIMER = ('n=$1; shift; for i in $(seq "$n"); do '
         's=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $((e - s)); done')
# The CPU time of n runs: the shell's reaped children's user and system time (fields 16 and 17
# of /proc/PID/stat, in clock ticks) before and after, without the timer's own `date` runs.
CPU_TIMER = ('n=$1; shift; a=$(cut -d" " -f16,17 /proc/$$/stat); for i in $(seq "$n"); do '
             '"$@" >/dev/null 2>&1; done; b=$(cut -d" " -f16,17 /proc/$$/stat); echo $a $b')
BATCH = 5
CHECKER = [TARGET_PATH, "--", "true"]
OPENSSL = ["openssl", "list", "-providers"]


@dataclass
class Side:
    wall: list[float] = field(default_factory=list)  # ms, per run
    batches: list[float] = field(default_factory=list)  # median wall ms of each batch
    cpu: float = 0.0  # ms, all runs
    runs: int = 0

    @property
    def cpu_per_run(self) -> float:
        return self.cpu / self.runs


@dataclass
class Comparison:
    checker: Side
    openssl: Side
    exec_true: list[float]  # ms: what exec'ing CMD (here `true`) costs by itself

    @property
    def wall_ratio(self) -> float:
        """Median of the batches' ratios (each pair measured one after the other)."""
        return statistics.median(c / o for c, o in zip(self.checker.batches, self.openssl.batches,
                                                       strict=True))

    @property
    def cpu_ratio(self) -> float:
        return self.checker.cpu_per_run / self.openssl.cpu_per_run


def _run(target: Target, script: str, repeat: int, command: list[str]) -> str:
    result = target.exec(["sh", "-c", script, "bench", str(repeat), *command])
    if result.exit_code != 0:
        raise SystemExit(f"{command} failed: {result.stderr.decode()}")
    return result.text


def timings(target: Target, repeat: int, command: list[str]) -> list[float]:
    """Wall milliseconds of each of ``repeat`` runs."""
    return [int(line) / 1e6 for line in _run(target, TIMER, repeat, command).split()]


def cpu_milliseconds(target: Target, repeat: int, command: list[str]) -> float:
    """User + system milliseconds of ``repeat`` runs together."""
    user0, system0, user1, system1 = map(int, _run(target, CPU_TIMER, repeat, command).split())
    return (user1 + system1 - user0 - system0) * 1000 / os.sysconf("SC_CLK_TCK")


def compare(target: Target, repeat: int) -> Comparison:
    """The checker against ``openssl list -providers`` in ``target`` (the checker put at
    TARGET_PATH), ``repeat`` runs each, in alternating batches so load drift hits both."""
    sides = {tuple(CHECKER): Side(), tuple(OPENSSL): Side()}
    exec_true: list[float] = []
    for _ in range(0, repeat, BATCH):
        for command, side in sides.items():
            runs = timings(target, BATCH, list(command))
            side.wall += runs
            side.batches.append(statistics.median(runs))
            side.cpu += cpu_milliseconds(target, BATCH, list(command))
            side.runs += BATCH
        exec_true += timings(target, BATCH, ["true"])
    return Comparison(sides[tuple(CHECKER)], sides[tuple(OPENSSL)], exec_true)


def install_checker(target: Target) -> None:
    target.put_file(TARGET_PATH, executable_path().read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--image", default="fipscheck/openssl-fips:latest")
    args = parser.parse_args()
    with ImageTarget(args.image) as target:
        install_checker(target)
        result = compare(target, args.repeat)
    for name, side in (("fips-startup-check -- true", result.checker),
                       ("openssl list -providers", result.openssl)):
        print(f"{name:28} wall median {statistics.median(side.wall):7.2f} ms  min {min(side.wall):7.2f} ms"
              f"  CPU {side.cpu_per_run:6.2f} ms per run  ({side.runs} runs)")
    print(f"{'true (the exec of CMD)':28} wall median {statistics.median(result.exec_true):7.2f} ms")
    print(f"ratio (checker / openssl list): wall {result.wall_ratio:.2f} (paired by batch), "
          f"CPU {result.cpu_ratio:.2f}")


if __name__ == "__main__":
    main()
