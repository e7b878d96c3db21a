"""Benchmark (not a test): fipscheck's static scan of a large root against the floor, a plain
walk that reads the first 4 KiB of every regular file.

The root is a trixie image with a few thousand packages' worth of files (compilers, Boost,
Python, GTK headers...), built once as ``fipscheck-bench/large-root:latest`` and unpacked
once into ``/var/tmp/fipscheck-bench-root``; later runs reuse both. Each measurement runs in
its own process, so its peak RSS is its own; each runs three times (interleaved) and its
best time counts, the page cache being warm after the first round.

Usage: .venv/bin/python bench/static_scan.py [--rebuild]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker

IMAGE = "fipscheck-bench/large-root:latest"
ROOT = Path("/var/tmp/fipscheck-bench-root")
PACKAGES = ("build-essential libboost-all-dev python3-full libgtk-3-dev libssl-dev openssl "
            "libcurl4-openssl-dev perl git")
DOCKERFILE = f"""FROM fipscheck-base:trixie
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
    {PACKAGES} && rm -rf /var/lib/apt/lists/*
"""


def build_root(rebuild: bool) -> None:
    if ROOT.is_dir() and not rebuild:
        return
    from fipscheck.targets.export import extract

    client = docker.from_env(timeout=3600)
    print(f"building {IMAGE} (once)", file=sys.stderr)
    client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=IMAGE,
                        network_mode="host", rm=True, forcerm=True)
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    container = client.containers.create(IMAGE, entrypoint=["true"], network_mode="none")
    try:
        extract(container.export(), ROOT)
    finally:
        container.remove(force=True)


def floor() -> dict:
    files = 0
    stack = [str(ROOT)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    with open(entry.path, "rb") as f:
                        f.read(4096)
                    files += 1
    return {"files": files}


def inventory_only() -> dict:
    from fipscheck.probes.inventory import inventory
    from fipscheck.runner import ScanContext
    from fipscheck.targets.rootfs import RootfsTarget

    found = ScanContext(RootfsTarget(ROOT)).evidence(inventory)
    return {"files": found.files, "elf": len(found.elf)}


def full_scan() -> dict:
    from fipscheck.runner import scan
    from fipscheck.targets.rootfs import RootfsTarget

    report = scan(RootfsTarget(ROOT), checks=["linkage.libcrypto", "libraries.banned"])
    return {c.id: c.status.value for c in report.checks}


ROUNDS = 3  # the best time of each phase counts: the machine is shared
PHASES = {"floor": floor, "inventory": inventory_only, "scan": full_scan}


def run_phase(name: str) -> None:
    """Child process: run one phase, print its figures as JSON."""
    started = time.perf_counter()
    result = PHASES[name]()
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args.phase)
        return
    build_root(args.rebuild)
    figures: dict[str, dict] = {}
    for _ in range(ROUNDS):  # interleaved, so a noisy moment hits every phase alike
        for name in PHASES:
            out = subprocess.run([sys.executable, __file__, "--phase", name], check=True,
                                 capture_output=True, text=True).stdout
            result = json.loads(out.splitlines()[-1])
            best = figures.setdefault(name, result)
            best["seconds"] = min(best["seconds"], result["seconds"])
            best["peak_rss_mib"] = max(best["peak_rss_mib"], result["peak_rss_mib"])
    files = figures["floor"]["files"]
    base = figures["floor"]["seconds"]
    for name, f in figures.items():
        extra = {k: v for k, v in f.items() if k not in ("seconds", "peak_rss_mib")}
        print(f"{name:10} {f['seconds']:7.2f} s  {files / f['seconds']:9.0f} files/s  "
              f"{f['seconds'] / base:5.2f} x floor  peak RSS {f['peak_rss_mib']:6.0f} MiB  {extra}")


if __name__ == "__main__":
    main()
