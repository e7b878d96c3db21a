"""``fipscheck scan`` end to end against real images on the real engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import our_containers, pid_of

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))  # the console script users run
GNUTLS_TWIN = "fipscheck/openssl-fips-gnutls:latest"
REFERENCE = "fipscheck/openssl-fips:latest"


def fipscheck(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([FIPSCHECK, *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_reference_image_passes_with_json_evidence(image, tmp_path, no_leaks):
    done = fipscheck("scan", image(REFERENCE), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema_version"] == 1
    assert report["verdict"] == "pass"
    assert report["target"]["kind"] == "image" and report["target"]["name"] == REFERENCE
    export = report["target"]["export"]  # what was read, and what the safe extraction left out
    assert export["files"] > 1000 and export["bytes"] > 0
    assert export["skipped"].get("device, FIFO or other special file", 0) > 0  # Docker's /dev nodes
    banned = next(c for c in report["checks"] if c["id"] == "libraries.banned")
    assert banned["status"] == "pass"
    assert banned["evidence"]["files_examined"] > 1000  # the whole image was walked


def test_gnutls_twin_fails_naming_the_libraries(image, no_leaks):
    done = fipscheck("scan", image(GNUTLS_TWIN))
    assert done.returncode == 1, done.stderr
    line = next(x for x in done.stdout.splitlines() if "libraries.banned" in x)
    assert line.split()[0] == "FAIL"
    for lib in ("libgnutls.so.30.", "libnettle.so.8.", "libhogweed.so.6."):
        assert f"/usr/lib/x86_64-linux-gnu/{lib}" in line


def test_missing_image_exits_2_with_one_line(engine, no_leaks):
    done = fipscheck("scan", "--pull", "never", "fipscheck/no-such-image:never")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "fipscheck: error: no such image: fipscheck/no-such-image:never; --pull never forbids pulling it"]


def test_rootfs_scan_reads_a_directory(tmp_path):
    lib = tmp_path / "usr/lib"
    lib.mkdir(parents=True)
    (lib / "libmbedcrypto.so.7").write_bytes(Path("/usr/bin/true").read_bytes())  # any real ELF
    (lib / "libmbedcrypto.so").symlink_to("libmbedcrypto.so.7")
    done = fipscheck("scan", "--rootfs", str(tmp_path), "--format", "json", "--check", "libraries.banned")
    assert done.returncode == 1
    checks = json.loads(done.stdout)["checks"]
    found = next(c for c in checks if c["id"] == "libraries.banned")["evidence"]["found"]
    assert found == [{"path": "/usr/lib/libmbedcrypto.so.7", "family": "mbedtls", "soname": None,
                      "reason": found[0]["reason"], "aliases": ["/usr/lib/libmbedcrypto.so"]}]


def test_rootfs_scan_imports_nothing_of_images_engines_or_other_formats(tmp_path):
    code = ("import sys; from fipscheck.cli import main; "
            f"code = main(['scan', '--rootfs', {str(tmp_path)!r}, '--format', 'json', '-q']); "
            "print(code, ' '.join(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    code, *loaded = done.stderr.split()
    assert code == "2"  # an empty root: nothing verified
    assert not [m for m in loaded if m.startswith((
        "docker", "requests", "testinfra", "fipscheck.targets.engine", "fipscheck.targets.export",
        "fipscheck.targets.oci", "fipscheck.workdir", "fipscheck.renderers.junit",
        "fipscheck.renderers.sarif"))]


def scan_with_container_up(engine, image_name: str) -> subprocess.Popen:
    """Start a scan and return once its container exists."""
    proc = subprocess.Popen([FIPSCHECK, "scan", image_name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not containers_of(engine, proc):
        assert proc.poll() is None and time.monotonic() < deadline, "no container was created"
        time.sleep(0.05)
    return proc


def containers_of(engine, proc: subprocess.Popen) -> list:
    return [c for c in our_containers(engine) if pid_of(c) == str(proc.pid)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_scan_removes_its_container(engine, image, sig, no_leaks):
    proc = scan_with_container_up(engine, image(REFERENCE))
    os.kill(proc.pid, sig)  # while it exports (test_lifecycle interrupts it while it probes)
    assert proc.wait(timeout=60) == 128 + sig  # 130 for SIGINT, 143 for SIGTERM
    assert not containers_of(engine, proc)

