"""Options that bound a scan, on every kind of target: ``--skip-dir``/``--skip-file`` globs
(CLI, pytest options and ini), ``--timeout`` for the whole scan (an ERROR naming the limit,
the target's resources still removed), and progress on stderr (``-q``, ``-v``, a terminal)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import our_containers, pid_of

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
GNUTLS_TWIN = "fipscheck/openssl-fips-gnutls:latest"
REFERENCE = "fipscheck/openssl-fips:latest"
HOST_LIBS = Path("/usr/lib/x86_64-linux-gnu")


def fipscheck(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([FIPSCHECK, *args], capture_output=True, text=True, timeout=600, **kwargs)


def banned_check(done: subprocess.CompletedProcess) -> dict:
    return next(c for c in json.loads(done.stdout)["checks"] if c["id"] == "libraries.banned")


@pytest.fixture
def root(tmp_path) -> Path:
    """A root with this machine's real Nettle and Hogweed libraries in two places, and zlib (not
    banned: a pass with both skipped examined a library)."""
    root = tmp_path / "root"
    for where, name in (("opt/vendor/lib", "libnettle.so.8"), ("usr/lib", "libhogweed.so.6"),
                        ("usr/lib", "libz.so.1")):
        (root / where).mkdir(parents=True, exist_ok=True)
        shutil.copy(HOST_LIBS / name, root / where / name)
    return root


def test_skip_globs_leave_directories_and_files_out_and_say_so(root):
    scan = ("scan", "--rootfs", str(root), "--check", "libraries.banned", "--format", "json")
    everything = banned_check(fipscheck(*scan))
    assert {f["path"] for f in everything["evidence"]["found"]} == {
        "/opt/vendor/lib/libnettle.so.8", "/usr/lib/libhogweed.so.6"}
    # a glob without / is a name: its * does not reach into the path (vendor/lib/libnettle...)
    by_name_only = banned_check(fipscheck(*scan, "--skip-file", "vendor*", "--skip-dir", "ven"))
    assert by_name_only["evidence"]["found"] == everything["evidence"]["found"]
    by_path = banned_check(fipscheck(*scan, "--skip-dir", "/opt/vendor"))
    assert [f["path"] for f in by_path["evidence"]["found"]] == ["/usr/lib/libhogweed.so.6"]
    assert by_path["evidence"]["not_walked"] == {"/opt/vendor": "matches a --skip-dir glob"}
    done = fipscheck(*scan, "--skip-dir", "vendor", "--skip-file", "libhogweed*")  # by name
    by_name = banned_check(done)
    assert done.returncode == 0 and by_name["status"] == "pass"
    assert by_name["message"].endswith("(1 directories not walked)")
    assert by_name["evidence"]["skipped_files"] == {"count": 1, "first": ["/usr/lib/libhogweed.so.6"]}


def test_skip_globs_from_pytest_options_and_the_ini_file(pytester, root):
    pytester.makeini(f"[pytest]\nfips_rootfs = {root}\nfips_skip_file =\n    libhogweed.so.*\n")
    failed = pytester.runpytest_subprocess("-k", "libraries", "-p", "no:cacheprovider")
    failed.assert_outcomes(failed=1, deselected=failed.parseoutcomes()["deselected"])
    failed.stdout.fnmatch_lines(["*libnettle.so.8*"])
    result = pytester.runpytest_subprocess("-k", "libraries", "--fips-skip-dir=/opt/*",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=result.parseoutcomes()["deselected"])


def test_skip_globs_on_an_image(image, no_leaks):
    skips = [f"--skip-file=lib{name}*" for name in ("gnutls", "nettle", "hogweed")]
    done = fipscheck("scan", image(GNUTLS_TWIN), "--check", "libraries.banned", *skips,
                     "--format", "json")
    banned = banned_check(done)
    assert done.returncode == 0 and banned["status"] == "pass", banned
    assert banned["evidence"]["skipped_files"]["count"] >= 3


def test_timeout_ends_a_host_walk_with_an_error_naming_the_limit():
    started = time.monotonic()
    done = fipscheck("scan", "--host", "local://", "--check", "libraries.banned", "--check",
                     "linkage.libcrypto", "--timeout", "1", "--format", "json")
    assert time.monotonic() - started < 60  # the walk of / was cut short
    assert done.returncode == 2, done.stderr
    banned, linkage = json.loads(done.stdout)["checks"]
    assert (banned["id"], banned["status"]) == ("libraries.banned", "error")
    assert banned["message"] == "could not finish: the scan's time limit of 1 s (--timeout) ran out"
    assert linkage["message"] == "not run: the scan's time limit of 1 s (--timeout) ran out"


def test_timeout_on_an_image_still_removes_its_container(engine, image):
    name = image(REFERENCE)
    scan = subprocess.Popen([FIPSCHECK, "scan", name, "--timeout", "1.5", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = scan.communicate(timeout=300)
    assert scan.returncode == 2
    assert "time limit of 1.5 s (--timeout) ran out" in out + err
    assert not [c for c in our_containers(engine) if pid_of(c) == str(scan.pid)]


def test_timeout_in_pytest(pytester):
    result = pytester.runpytest_subprocess("--fips-host=local://", "--fips-timeout=1", "-k",
                                           "libraries or linkage", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2, deselected=result.parseoutcomes()["deselected"])
    result.stdout.fnmatch_lines(["*could not finish: the scan's time limit of 1 s*",
                                 "*not run: the scan's time limit of 1 s*"])


def run_with_terminal_stderr(*args: str) -> tuple[int, str, str]:
    """fipscheck with stderr on a pseudo-terminal (as in an interactive shell), stdout piped."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([FIPSCHECK, *args], stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    out = proc.communicate(timeout=300)[0]
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def test_progress_on_a_terminal_quiet_otherwise(root):
    scan = ("scan", "--rootfs", str(root), "--check", "libraries.banned")
    code, out, terminal = run_with_terminal_stderr(*scan)
    assert code == 1 and "verdict: FAIL" in out
    assert "\x1b[Kfipscheck: libraries.banned" in terminal  # counts too, once there are any
    assert terminal.endswith("\r\x1b[K")  # the line is cleared before the report
    assert run_with_terminal_stderr(*scan, "-q")[2] == ""
    piped = fipscheck(*scan)
    assert piped.stderr == "" and "verdict: FAIL" in piped.stdout
    verbose = fipscheck(*scan, "-v").stderr.splitlines()
    assert verbose[0].startswith(f"fipscheck: opening {root}: ")
    assert verbose[1].startswith("fipscheck: libraries.banned: ") and "3 files" in verbose[1]
