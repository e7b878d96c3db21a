"""``bench/run``: every performance goal of fipscheck measured in one run, as ratios against a
floor (the least the job takes) and a peer (check-payload) on this machine, interleaved.

    bench/run                  everything (tens of minutes on a loaded 2-core machine)
    bench/run --quick          fewer repetitions, no 200k-file root
    bench/run --goal 1 --goal 6
    bench/run --no-readme      print the table only (bench/README.md is rewritten otherwise)

The test bed must be up (``scripts/testbed setup``). Roots and the peer are made once under
``$FIPSCHECK_BENCH_DIR`` (default /var/tmp/fipscheck-bench) and reused.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import roots
from .measure import Runs, interleaved, paired_ratio

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FIPSCHECK = [PYTHON, "-m", "fipscheck"]  # as installed, or as PYTHONPATH points (to compare)
IMAGES = ("fipscheck/openssl-fips:latest", "fipscheck/cni-fips:latest")
XDIST_IMAGES = ("fipscheck/openssl-fips:latest", "fipscheck/cni-fips:latest",
                "fipscheck/python-fips:latest", "fipscheck/go-variants:latest")
SYNTHETIC = (10_000, 50_000, 200_000)


@dataclass
class Row:
    goal: str
    what: str
    figures: str  # times and memory as measured
    ratio: float
    limit: float | None  # None: information, no goal
    against: str

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return "info"
        return "met" if self.ratio <= self.limit else "NOT MET"


@dataclass
class Bench:
    repeat: int
    quick: bool
    rows: list[Row]
    notes: list[str]

    def add(self, *row_args) -> None:
        row = Row(*row_args)
        self.rows.append(row)
        limit = f"<= {row.limit}" if row.limit is not None else ""
        print(f"  {row.goal:3} {row.what:44} {row.figures:62} {row.ratio:5.2f} {limit:8} "
              f"{row.against:24} {row.verdict}", flush=True)


def _scan_summary(runs: Runs) -> str:
    try:
        report = json.loads(runs.output)
    except ValueError:
        return "?"
    return report["verdict"]


def static_roots(bench: Bench) -> None:
    """Goals 1, 2, 4: fipscheck scan --rootfs against the floor and check-payload."""
    engine = roots.client()
    peer = str(roots.check_payload(engine))
    named = [("openssl-fips reference", roots.image_root(engine, roots.REFERENCE)),
             ("Go builder image", roots.image_root(engine, roots.BUILDER))]
    sizes = SYNTHETIC[:2] if bench.quick else SYNTHETIC
    named += [(f"synthetic {n // 1000}k", roots.synthetic_root(engine, n)) for n in sizes]
    for label, root in named:
        repeat = max(2, bench.repeat // 2) if "200k" in label else bench.repeat
        runs = interleaved({
            "fipscheck": [*FIPSCHECK, "scan", "--rootfs", str(root), "--format", "json"],
            "floor": [PYTHON, "-m", "bench.floors", "static", str(root)],
            "check-payload": [peer, "scan", "local", "--path", str(root)],
        }, repeat, cwd=str(REPO))
        ours, floor, cp = runs["fipscheck"], runs["floor"], runs["check-payload"]
        counted = json.loads(floor.output)
        what = f"{label}: {counted['files'] // 1000}k files / {counted['elf']} ELF"
        cpu = statistics.median(c / s for c, s in zip(ours.cpu, ours.seconds, strict=True))
        figures = (f"{ours.median:6.2f} s vs floor {floor.median:5.2f} s, peer {cp.median:5.2f} s;"
                   f" {_scan_summary(ours)}")
        bench.add("1", what, figures, paired_ratio(ours, cp), 1.0, "check-payload")
        bench.add("1", what, "(same runs)", paired_ratio(ours, floor), 1.5, "floor")
        bench.add("2", what, f"peak memory {ours.peak_mib:4.0f} MiB (floor {floor.peak_mib:.0f}, "
                  f"peer {cp.peak_mib:.0f})", ours.peak_mib / 100, 1.0, "100 MiB")
        bench.add("4", what, f"CPU time {statistics.median(ours.cpu):5.2f} s (floor "
                  f"{statistics.median(floor.cpu):.2f}, peer {statistics.median(cp.cpu):.2f})",
                  cpu, None, "CPU/wall of fipscheck")


def image_scans(bench: Bench) -> None:
    """Goal 3: fipscheck scan IMAGE against create + export + start + exec + remove."""
    engine = roots.client()
    roots.go_builder(engine)
    for image in (*IMAGES, *(() if bench.quick else (roots.BUILDER,))):
        size = engine.images.get(image).attrs["Size"] / (1 << 20)
        runs = interleaved({
            "fipscheck": [*FIPSCHECK, "scan", image, "--format", "json"],
            "floor": [PYTHON, "-m", "bench.floors", "image", image],
        }, bench.repeat, cwd=str(REPO))
        ours, floor = runs["fipscheck"], runs["floor"]
        bench.add("3", f"image {image.split('/')[-1]} ({size:.0f} MiB)",
                  f"{ours.median:6.2f} s vs floor {floor.median:5.2f} s; {_scan_summary(ours)}; "
                  f"peak memory {ours.peak_mib:.0f} MiB", paired_ratio(ours, floor), 1.3, "floor")


def xdist(bench: Bench) -> None:
    """Goal 5: the plugin on 4 images, ``-n 2`` against sequential."""
    targets = [f"--fips-image={image}" for image in XDIST_IMAGES]
    with tempfile.TemporaryDirectory(prefix="fipscheck-bench-xdist-") as empty:
        # Without hypothesis's plugin (in the test bed's venv, not fipscheck's): pytest rewrites
        # every module of a plugin's distribution, 153 of hypothesis's, again in every process
        # when PYTHONDONTWRITEBYTECODE is set (about 2.7 s each): -n 2 runs three processes.
        base = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                *targets]
        runs = interleaved({"-n 2": [*base, "-n", "2"], "sequential": base},
                           max(2, bench.repeat // 2), cwd=empty)
    parallel, sequential = runs["-n 2"], runs["sequential"]
    bench.add("5", "pytest -n 2, 4 images", f"{parallel.median:6.2f} s vs sequential "
              f"{sequential.median:5.2f} s", paired_ratio(parallel, sequential), 0.6, "sequential")


def status(bench: Bench) -> None:
    """Goal 6: an application's self-check against importing ssl and hashlib."""
    runs = interleaved({"status": [PYTHON, "-c", "import fipscheck; fipscheck.status()"],
                        "ssl": [PYTHON, "-c", "import ssl, hashlib"]}, bench.repeat * 3)
    ours, floor = runs["status"], runs["ssl"]
    bench.add("6", "import fipscheck; fipscheck.status()",
              f"{ours.median * 1000:6.0f} ms vs import ssl, hashlib {floor.median * 1000:4.0f} ms",
              paired_ratio(ours, floor), 1.5, "import ssl, hashlib")


def preflight(bench: Bench) -> None:
    """Goal 7: the native preflight against ``openssl list -providers`` in one container."""
    from fipscheck.targets import ImageTarget

    from .startup_check import compare, install_checker

    with ImageTarget(roots.REFERENCE) as target:
        install_checker(target)
        result = compare(target, bench.repeat * 10)
    checker, openssl = result.checker, result.openssl
    what = "fips-startup-check -- true (in openssl-fips)"
    bench.add("7", what, f"{statistics.median(checker.wall):6.1f} ms vs openssl list -providers "
              f"{statistics.median(openssl.wall):5.1f} ms (exec of true alone "
              f"{statistics.median(result.exec_true):.1f} ms)", result.wall_ratio, 1.0,
              "openssl list -providers")
    bench.add("7", what, f"CPU time {checker.cpu_per_run:5.1f} ms vs {openssl.cpu_per_run:5.1f} ms "
              "per run", result.cpu_ratio, None, "CPU of openssl list")


GOALS: dict[str, Callable[[Bench], None]] = {
    "1": static_roots, "3": image_scans, "5": xdist, "6": status, "7": preflight}


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"cpu": f"{cpu}, {os.cpu_count()} cores", "memory": memory,
            "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}"}


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", "src", "bench") else ""
    return f"{git('rev-parse', '--short=12', 'HEAD')} {git('log', '-1', '--format=%s')[:70]}{dirty}"


def write_readme(bench: Bench, started: str, loads: tuple[str, str]) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run` (do not edit by hand): every goal of issue 14 as a ratio measured",
        "in one run, each side run in its own process, interleaved, after a warm-up round; a",
        "ratio is the median of the per-round ratios. Nothing here is asserted by the tests.",
        "",
        f"- date: {started}",
        f"- commit: {commit()}",
        *(f"- {k}: {v}" for k, v in machine().items()),
        f"- load average (1, 5, 15 min) at start: {loads[0]}; at the end: {loads[1]} "
        "(the machine is shared)",
        f"- repetitions: {bench.repeat}{' (quick)' if bench.quick else ''}",
        "",
        "| goal | what | measured | ratio | limit | against | |",
        "|---|---|---|---|---|---|---|",
        *(f"| {r.goal} | {r.what} | {r.figures} | {r.ratio:.2f} | {r.limit or ''} | {r.against} | "
          f"{r.verdict} |" for r in bench.rows),
        "",
        *bench.notes,
        "",
        "Floors: static, `python -m bench.floors static ROOT` (walk, first 4 KiB of every file,",
        "one mmap'd literal search over every whole ELF file); image, `python -m bench.floors",
        "image IMAGE` (create, read `docker export` once, start, one exec, remove). Peer:",
        "check-payload `scan local --path ROOT`, built by `bench/roots.py` from",
        "`/work/shared/thirdparty/check-payload-*.tar.gz` (it reads only executable ELF files;",
        "the synthetic roots' ELF copies are executable so that it reads them all).",
        "Goal 2 is the peak memory (proportional set size) of the whole process tree over",
        "100 MiB; goal 4 the CPU time (all processes) over wall time: fipscheck analyses ELF",
        "files in one worker process per core. On this shared machine every session's processes",
        "share one scheduling group (autogroup), so when other sessions keep the cores busy, the",
        "workers add no share: ratios then follow the CPU times (the goal 4 rows), and a later",
        "run on a quieter machine shows more of the second core.",
    ]
    (Path(__file__).parent / "README.md").write_text("\n".join(lines) + "\n")


def byte_compile_fipscheck() -> None:
    """Byte-compile the fipscheck the runs import, as pip does on install: an editable install
    (the test bed's) has no .pyc files, and with PYTHONDONTWRITEBYTECODE set every run would
    compile its modules again (a quarter of a second, more than the whole of goal 6)."""
    spec = importlib.util.find_spec("fipscheck")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(directory, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--goal", action="append", choices=sorted(GOALS),
                        help="run only these goals (1 also measures 2 and 4)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per comparison")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    started = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    bench = Bench(3 if args.quick and args.repeat == 5 else args.repeat, args.quick, [], [])
    print(f"bench: {machine()['cpu']}; load average {load_start}", flush=True)
    byte_compile_fipscheck()
    for goal in args.goal or sorted(GOALS):
        GOALS[goal](bench)
    load_end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    if not args.no_readme:
        write_readme(bench, started, (load_start, load_end))
    print(f"bench: load average at the end {load_end}")


if __name__ == "__main__":
    main()
