"""The inventory's worker processes and bounded searches: a parallel scan finds exactly what
a serial one finds, and an interrupt during a long search ends the scan at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from elfcraft import craft
from fipscheck.probes import inventory as inventory_module
from fipscheck.runner import ScanContext, run_check, select_checks
from fipscheck.targets import ImageTarget
from fipscheck.targets.rootfs import RootfsTarget

STATIC_CHECKS = ["go.fips-toolchain", "libraries.banned", "linkage.libcrypto", "openssl.config"]


def _report(target, workers: str, monkeypatch) -> str:
    monkeypatch.setenv("FIPSCHECK_WORKERS", workers)
    ctx = ScanContext(target)
    results = [run_check(ctx, check).to_dict() for check in select_checks(STATIC_CHECKS)]
    return json.dumps(results, sort_keys=True, default=str)


@pytest.mark.parametrize("name", ["fipscheck/openssl-fips-gnutls:latest",
                                  "fipscheck/bundled-python-wheels:latest",
                                  "fipscheck/go-variants:latest"])
def test_parallel_scan_finds_exactly_what_a_serial_one_finds(image, name, monkeypatch, no_leaks):
    # small batches and no serial start, so that every image is spread over the workers
    monkeypatch.setattr(inventory_module, "SERIAL_FILES", 64)
    monkeypatch.setattr(inventory_module, "BATCH", 16)
    with ImageTarget(image(name)) as target:
        serial = _report(target, "1", monkeypatch)
        parallel = _report(target, "2", monkeypatch)
    assert parallel == serial
    assert '"status": "fail"' in serial or '"status": "pass"' in serial


@pytest.mark.parametrize("thread", [False, True])
def test_workers_started_by_fork_or_by_a_fork_server_agree(tmp_path, monkeypatch, thread):
    # With another thread running (pytest-xdist's workers have one), the workers come from a
    # fork server instead of a fork of this process.
    for n, source in enumerate(["/usr/bin/true", "/usr/bin/env", "/usr/bin/openssl",
                                "/usr/lib/x86_64-linux-gnu/libc.so.6"] * 40):
        (tmp_path / f"d{n % 7}").mkdir(exist_ok=True)
        shutil.copy(source, tmp_path / f"d{n % 7}/{n}-{os.path.basename(source)}")
    monkeypatch.setattr(inventory_module, "SERIAL_FILES", 16)
    monkeypatch.setattr(inventory_module, "BATCH", 8)
    stop = threading.Event()
    if thread:
        threading.Thread(target=stop.wait, daemon=True).start()
    try:
        found = {}
        for workers in ("1", "2"):
            monkeypatch.setenv("FIPSCHECK_WORKERS", workers)
            found[workers] = ScanContext(RootfsTarget(tmp_path)).evidence(inventory_module.inventory)
    finally:
        stop.set()
    assert found["2"] == found["1"] and len(found["1"].elf) == 160


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupt_during_a_long_search_ends_the_scan_at_once(tmp_path, workers):
    # Eight libraries whose .rodata is 1.9 GiB of holes: searching one for "SSL" takes
    # seconds in one C call, which answers no signal; searched in steps, Ctrl-C is answered
    # between two of them. With workers, 4,100 small files come first (the inventory starts
    # its workers after 4,096), so the searches run in the workers.
    for n in range(4100 if workers == "2" else 0):
        (tmp_path / f"note-{n}").write_bytes(b"x")
    (tmp_path / "lib").mkdir()
    for n in range(8):
        craft(tmp_path / f"lib/libhole{n}.so", [(".rodata", 1, 4096, 1900 << 20)],
              size=(1900 << 20) + 4096)
    proc = subprocess.Popen([sys.executable, "-m", "fipscheck", "scan", "--rootfs", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "FIPSCHECK_WORKERS": workers})
    try:
        deadline = time.monotonic() + 120
        while _cpu_seconds(proc.pid) + sum(map(_cpu_seconds, _children(proc.pid))) < 1.5:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        workers_seen = _children(proc.pid)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=5) == 130, proc.communicate()
    finally:
        proc.kill()
        proc.wait()
    assert b"interrupted" in proc.stderr.read()
    assert len(workers_seen) == (2 if workers == "2" else 0)
    assert not [pid for pid in workers_seen if os.path.exists(f"/proc/{pid}")]
