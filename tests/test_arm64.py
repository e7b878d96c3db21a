"""A foreign architecture: the arm64 reference roots (dockerfiles/arm64: trixie for arm64 from
debootstrap --foreign, a FIPS-like one and its non-compliant twin) get the full static
analysis in this x86-64 engine and no runtime checks, with the reason; the aarch64 checker
shipped in the package is read as an ELF file and run on those roots under qemu-user."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fipscheck.elf import ElfFile
from fipscheck.fs import RootFilesystem
from fipscheck.loader import loader_system_dirs
from fipscheck.model import Status
from fipscheck.native import executable_path
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget

FIPS, TWIN = "fipscheck/arm64-fips:latest", "fipscheck/arm64-not-fips:latest"
MULTIARCH = "/usr/lib/aarch64-linux-gnu"
LIBCRYPTO = f"{MULTIARCH}/libcrypto.so.3"
LOADER = "/lib/ld-linux-aarch64.so.1"
RUNTIME = {"algorithms.approved", "algorithms.non-approved", "kernel.fips", "openssl.fips-mode",
           "openssl.fips-provider", "openssl.module-integrity", "python.hashlib", "python.ssl",
           "wolfssl.fips"}
# The oldest glibc the aarch64 checker runs on: the first aarch64 glibc (see start-aarch64.S).
AARCH64_GLIBC = (2, 17)


@pytest.fixture(scope="session")
def arm64(image):
    """Each arm64 reference image exported once (its container created, never started) and
    scanned once; closed at the end of the session."""
    opened: dict[str, tuple[ImageTarget, dict]] = {}

    def scanned(name: str) -> tuple[Path, dict]:
        if name not in opened:
            target = ImageTarget(image(name))
            report = scan(target)
            opened[name] = (target, {"report": report, **{r.id: r for r in report.checks}})
        target, results = opened[name]
        return target.filesystem.root, results
    yield scanned
    for target, _ in opened.values():
        target.close()


def qemu_aarch64() -> str:
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if qemu is None:
        pytest.fail("qemu-user is missing: run scripts/testbed setup")
    return qemu


def run_aarch64(root: Path, program: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """An aarch64 program under qemu-user with the root as its / for absolute paths (the
    loader, libcrypto, the configuration): the test's own roots, built for this."""
    return subprocess.run([qemu_aarch64(), "-L", str(root), program, *args], capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", **env})


def test_the_package_ships_an_aarch64_checker_needing_glibc_2_17():
    checker = executable_path("arm64")
    assert checker != executable_path() and checker.name == "fips-startup-check"
    with checker.open("rb") as f:
        elf = ElfFile(f)
        assert (elf.bits, elf.machine, elf.interpreter) == (64, 183, LOADER)
        # No libcrypto linked; the loader itself because on aarch64 glibc exports the stack
        # protector's __stack_chk_guard from it (the build is hardened, see native/Makefile).
        assert elf.dynamic().needed == ("libdl.so.2", "libc.so.6", LOADER.rsplit("/", 1)[-1])
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", str(checker)], capture_output=True,
                             text=True, check=True).stdout
    versions = {tuple(map(int, v.split("."))) for v in re.findall(r"@GLIBC_([0-9.]+)", symbols)}
    assert versions and max(versions) == AARCH64_GLIBC, sorted(versions)
    assert executable_path("aarch64") == checker
    printed = subprocess.run([sys.executable, "-m", "fipscheck.cli", "native-path", "--arch",
                              "arm64"], capture_output=True, text=True, check=True).stdout
    assert printed == f"{checker}\n"


def test_the_aarch64_checker_runs_on_the_arm64_fips_root_under_qemu(arm64):
    root, _ = arm64(FIPS)
    done = run_aarch64(root, str(executable_path("aarch64")), OPENSSL_CONF="/etc/ssl/openssl.cnf")
    report = json.loads(done.stdout)
    assert done.returncode == report["exit_code"] == 0, done.stderr
    assert report["libcrypto"]["path"] == LIBCRYPTO and report["libcrypto"]["family"] == "openssl3"
    assert report["libcrypto"]["version"].startswith("OpenSSL 3.5.")
    assert {p["name"] for p in report["providers"]} == {"OpenSSL FIPS Provider", "OpenSSL Base Provider"}
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "openssl.fips-mode": "pass", "openssl.fips-provider": "pass",
        "openssl.module-integrity": "pass", "algorithms.approved": "pass",
        "algorithms.non-approved": "pass", "wolfssl.fips": "skip"}


def test_the_aarch64_checker_finds_the_twin_not_compliant(arm64):
    root, _ = arm64(TWIN)
    done = run_aarch64(root, str(executable_path("aarch64")), OPENSSL_CONF="/etc/ssl/openssl.cnf")
    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["openssl.fips-provider"] == statuses["algorithms.non-approved"] == "fail"
    refused = {a["algorithm"]: a for a in report["algorithms"]["non_approved"]}
    assert not refused["MD5"]["refused"] and refused["MD5"]["provider"] == "default"


def test_the_loaders_own_search_directories_are_read(arm64):
    """What `ld.so --help` prints as its system search path, for this machine's x86-64 loader
    and, under qemu, for the arm64 root's."""
    root, _ = arm64(FIPS)
    for fs, loader, run in [
            (RootFilesystem("/"), "/lib64/ld-linux-x86-64.so.2", lambda *a: subprocess.run(
                ["/lib64/ld-linux-x86-64.so.2", *a], capture_output=True, text=True).stdout),
            (RootFilesystem(root), LOADER, lambda *a: run_aarch64(root, str(root) + LOADER, *a).stdout)]:
        printed = re.findall(r"^  (/\S*) \(system search path\)$", run("--help"), re.M)
        assert loader_system_dirs(fs, loader) == tuple(printed) and len(printed) >= 2


def test_arm64_fips_root_passes_every_static_check_and_runs_nothing(arm64):
    _, results = arm64(FIPS)
    for check in ("go.fips-toolchain", "libraries.banned", "linkage.libcrypto", "openssl.config"):
        assert results[check].status is Status.PASS, results[check]
    linkage = results["linkage.libcrypto"].evidence
    assert linkage["fips_libcrypto"] == [LIBCRYPTO]
    digest = next(p for p in linkage["programs"] if p["program"] == "/app/digest")
    assert digest["libcrypto"] == [{"path": LIBCRYPTO, "found_by": "/etc/ld.so.cache",
                                    "needed_by": "/app/digest"}]
    go = results["go.fips-toolchain"].evidence["binaries"]
    assert [(b["path"], b["kind"]) for b in go] == [("/app/cni-agent", "go-fips140")]
    [config] = results["openssl.config"].evidence["configurations"]
    assert config["libcrypto"] == LIBCRYPTO and config["module"] == f"{MULTIARCH}/ossl-modules/fips.so"
    assert config["module_mac_computed"] == config["module_mac_recorded"]
    for check in RUNTIME:
        assert results[check].status is Status.SKIP, results[check]
        message = results[check].message
        assert "built for aarch64" in message and "runs x86_64" in message, message
    assert results["report"].verdict is Status.PASS


def test_arm64_twin_fails_each_static_check_for_its_own_reason(arm64):
    _, results = arm64(TWIN)
    assert "/app/cni-agent" in results["go.fips-toolchain"].message
    assert results["go.fips-toolchain"].status is Status.FAIL
    banned = {f["path"]: f for f in results["libraries.banned"].evidence["found"]}
    assert set(banned) == {f"{MULTIARCH}/libnettle.so.8.10", f"{MULTIARCH}/libhogweed.so.6.10",
                           "/opt/vendor/lib/libcrypto.so.3", "/app/digest-static"}
    # stripped and static: OpenSSL's aarch64 assembly is recognised by its credit line
    assert banned["/app/digest-static"]["banners"] == ["CRYPTOGAMS by <appro@openssl.org>"]
    failures = {f["program"]: f for f in results["linkage.libcrypto"].evidence["failures"]}
    assert set(failures) == {"/app/digest", "/app/digest-static"}
    assert failures["/app/digest"]["libcrypto"] == [
        {"path": "/opt/vendor/lib/libcrypto.so.3", "found_by": "DT_RPATH of /app/digest",
         "needed_by": "/app/digest"}]
    assert failures["/app/digest-static"]["carried"]["family"] == "openssl-derived"
    assert results["openssl.config"].status is Status.FAIL
    assert "no FIPS provider is configured" in results["openssl.config"].message
    assert results["report"].verdict is Status.FAIL
