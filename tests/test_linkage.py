"""linkage.libcrypto: ld.so's search order reproduced inside hand-made roots of real ELF
objects (compiled here with gcc), and the verdicts on the reference image and its negatives."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from fipscheck.model import Status
from fipscheck.probes.linkage import linkage
from fipscheck.runner import ScanContext, scan
from fipscheck.targets.base import TargetConfig
from fipscheck.targets.rootfs import RootfsTarget

MULTIARCH = "usr/lib/x86_64-linux-gnu"
STUB = "void EVP_Digest(void) {}\n"
USER = "void EVP_Digest(void); int main(void) { EVP_Digest(); return 0; }\n"


class ConfiguredRoot(RootfsTarget):
    """A root directory with an image configuration (for LD_LIBRARY_PATH)."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        super().__init__(directory)
        self._env = env

    @property
    def config(self) -> TargetConfig:
        return TargetConfig(env=self._env)


def gcc(tmp: Path, source: str, out: Path, *flags: str) -> Path:
    src = tmp / "src.c"
    src.write_text(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-o", str(out), str(src), *flags], check=True, cwd=out.parent)
    return out


@pytest.fixture
def build(tmp_path):
    """Compile into a fresh root: libraries by SONAME, programs linked to them."""
    root = tmp_path / "root"
    work = tmp_path / "work"
    work.mkdir()

    def library(where: str, soname: str, *flags: str, source: str = STUB) -> Path:
        return gcc(work, source, root / where.lstrip("/") / soname, "-shared", "-fPIC",
                   f"-Wl,-soname,{soname}", "-Wl,--no-as-needed", *flags)

    def program(where: str, *flags: str) -> Path:
        return gcc(work, USER, root / where.lstrip("/"), "-Wl,--no-as-needed", *flags)

    return root, library, program


def libcrypto_of(root: Path, program: str, env: dict[str, str] | None = None):
    found = linkage(ScanContext(ConfiguredRoot(root, env or {})))
    closure = next(c for c in found.closures if c.program == program)
    return closure


def link_flags(root: Path, where: str, *names: str) -> list[str]:
    """Link against libraries already built in the root, recording no path of this machine."""
    return [f"-L{root / where.lstrip('/')}", *(f"-l:{n}" for n in names)]


@pytest.mark.parametrize("dtags, path, found_by", [
    # DT_RPATH of the program serves its dependencies' dependencies too.
    ("--disable-new-dtags", "/opt/a/libcrypto.so.3", "DT_RPATH of /usr/bin/app"),
    # DT_RUNPATH serves only the program's own DT_NEEDED.
    ("--enable-new-dtags", f"/{MULTIARCH}/libcrypto.so.3",
     "default directory (assumed: no loader of this architecture)"),
])
def test_rpath_is_inherited_and_runpath_is_not(build, dtags, path, found_by):
    root, library, program = build
    library(MULTIARCH, "libcrypto.so.3")
    library("/opt/a", "libcrypto.so.3")
    library("/opt/a", "libmid.so", *link_flags(root, "/opt/a", "libcrypto.so.3"))
    program("/usr/bin/app", *link_flags(root, "/opt/a", "libmid.so"), f"-Wl,{dtags}",
            "-Wl,-rpath,/opt/a")
    [resolved] = libcrypto_of(root, "/usr/bin/app").libcrypto
    assert (resolved.path, resolved.found_by, resolved.needed_by) == (path, found_by,
                                                                      "/opt/a/libmid.so")


def test_origin_and_ld_library_path_order(build):
    root, library, program = build
    library("/opt/env", "libcrypto.so.3")
    library("/opt/app/lib", "libcrypto.so.3")
    flags = [*link_flags(root, "/opt/app/lib", "libcrypto.so.3"), "-Wl,--enable-new-dtags"]
    program("/opt/app/bin/runpath", *flags, "-Wl,-rpath,${ORIGIN}/../lib")
    program("/opt/app/bin/rpath", *flags[:-1], "-Wl,--disable-new-dtags",
            "-Wl,-rpath,$ORIGIN/../lib")
    env = {"LD_LIBRARY_PATH": "/opt/env"}
    # LD_LIBRARY_PATH comes before DT_RUNPATH, after DT_RPATH.
    assert libcrypto_of(root, "/opt/app/bin/runpath", env).libcrypto[0].path == "/opt/env/libcrypto.so.3"
    by_rpath = libcrypto_of(root, "/opt/app/bin/rpath", env).libcrypto[0]
    assert by_rpath.path == "/opt/app/lib/libcrypto.so.3"
    runpath = libcrypto_of(root, "/opt/app/bin/runpath").libcrypto[0]
    assert (runpath.path, runpath.found_by) == ("/opt/app/lib/libcrypto.so.3",
                                                "DT_RUNPATH of /opt/app/bin/runpath")


def test_nodeflib_skips_the_default_directories(build):
    root, library, program = build
    library(MULTIARCH, "libcrypto.so.3")
    program("/usr/bin/app", *link_flags(root, MULTIARCH, "libcrypto.so.3"), "-Wl,-z,nodefaultlib")
    closure = libcrypto_of(root, "/usr/bin/app")
    assert not closure.libcrypto and ("libcrypto.so.3", "/usr/bin/app") in closure.missing


def test_other_architectures_are_passed_over(build):
    root, library, program = build
    wrong = library("/opt/a", "libcrypto.so.3")
    library(MULTIARCH, "libcrypto.so.3")
    with open(wrong, "r+b") as f:
        f.seek(18)  # e_machine
        f.write(struct.pack("<H", 183))  # aarch64
    program("/usr/bin/app", *link_flags(root, MULTIARCH, "libcrypto.so.3"), "-Wl,-rpath,/opt/a")
    assert libcrypto_of(root, "/usr/bin/app").libcrypto[0].path == f"/{MULTIARCH}/libcrypto.so.3"


def test_links_resolve_inside_the_root_and_loops_end(build):
    root, library, program = build
    lib = root / MULTIARCH
    library(MULTIARCH, "libcrypto.so.3")
    program("/usr/bin/app", *link_flags(root, MULTIARCH, "libcrypto.so.3"),
            "-Wl,-rpath,/opt/loop:/opt/host")
    os.rename(lib / "libcrypto.so.3", lib / "libcrypto.so.3.5")
    os.symlink(f"/{MULTIARCH}/libcrypto.so.3.5", lib / "libcrypto.so.3")
    (root / "opt/loop").mkdir(parents=True)
    os.symlink("libcrypto.so.3", root / "opt/loop/libcrypto.so.3")  # a link to itself
    # An absolute link to a file the host has and the root has not: not a candidate.
    (root / "opt/host").mkdir(parents=True)
    os.symlink("/usr/lib/x86_64-linux-gnu/libssl.so.3", root / "opt/host/libcrypto.so.3")
    closure = libcrypto_of(root, "/usr/bin/app")
    assert closure.libcrypto[0].path == f"/{MULTIARCH}/libcrypto.so.3.5"
    assert closure.libcrypto[0].found_by == "default directory (assumed: no loader of this architecture)"


@pytest.mark.parametrize("keep", [20, 64, 300, 3000])
def test_truncated_elf_makes_the_checks_error(tmp_path, keep):
    (tmp_path / "usr/bin").mkdir(parents=True)
    shutil.copy("/usr/bin/true", tmp_path / "usr/bin/true")
    (tmp_path / "usr/bin/openssl").write_bytes(Path("/usr/bin/openssl").read_bytes()[:keep])
    results = scan(RootfsTarget(tmp_path), checks=["linkage.libcrypto", "libraries.banned"])
    for result in results.checks:
        assert result.status is Status.ERROR, result
        assert "/usr/bin/openssl" in result.evidence["malformed"]


def test_stripped_static_openssl_program_is_caught(tmp_path):
    """Stripped, and never asking for its version: only the assembly's credit line is left."""
    root = tmp_path / "root"
    flags = subprocess.run(["pkg-config", "--static", "--libs", "libcrypto"], check=True,
                           capture_output=True, text=True).stdout.split()
    gcc(tmp_path, '#include <openssl/evp.h>\nint main(void) { return !EVP_MD_fetch(0, "SHA2-256", 0); }\n',
        root / "usr/bin/static", "-s", "-static", *flags)
    shutil.copy("/usr/bin/true", root / "usr/bin/true")
    [closure] = linkage(ScanContext(RootfsTarget(root))).closures
    assert closure.program == "/usr/bin/static" and not closure.carried.symbols
    assert closure.carried.family == "openssl-derived"
    assert "CRYPTOGAMS" in closure.carried.why


# -- reference images ---------------------------------------------------------------------
def test_reference_image_resolves_every_program_to_its_fips_libcrypto(static_scan):
    result = static_scan("fipscheck/openssl-fips:latest")["linkage.libcrypto"]
    assert result.status is Status.PASS, result.message
    fips = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    assert result.evidence["fips_libcrypto"] == [fips]
    [copy] = result.evidence["libcrypto_copies"]
    assert copy["fips_module"].endswith("/ossl-modules/fips.so")
    assert copy["version"] == copy["fips_module_version"]
    openssl = next(p for p in result.evidence["programs"] if p["program"] == "/usr/bin/openssl")
    assert openssl["libcrypto"] == [{"path": fips, "found_by": "/etc/ld.so.cache",
                                     "needed_by": "/usr/bin/openssl"}]


def test_second_libcrypto_negatives(static_scan):
    result = static_scan("fipscheck/linkage-second-libcrypto:latest")["linkage.libcrypto"]
    assert result.status is Status.FAIL
    problems = {f["program"]: f for f in result.evidence["failures"]}
    assert set(problems) == {"/usr/local/bin/rpath-legacy", "/usr/local/bin/mixed",
                             "/usr/local/bin/needs-old", "/opt/vendored/libvendored.so"}
    legacy = problems["/usr/local/bin/rpath-legacy"]["libcrypto"]
    assert legacy == [{"path": "/opt/legacy/lib/libcrypto.so.3",
                       "found_by": "DT_RPATH of /usr/local/bin/rpath-legacy",
                       "needed_by": "/usr/local/bin/rpath-legacy"}]
    assert "2 different libcrypto copies" in problems["/usr/local/bin/mixed"]["problem"]
    assert "libcrypto.so.1.1" in problems["/usr/local/bin/needs-old"]["problem"]
    copies = {c["path"]: c for c in result.evidence["libcrypto_copies"]}
    assert copies["/opt/legacy/lib/libcrypto.so.3"]["version"].startswith("3.0.")


def test_static_openssl_image_fails(static_scan):
    result = static_scan("fipscheck/linkage-static-openssl:latest")["linkage.libcrypto"]
    assert result.status is Status.FAIL
    [failure] = result.evidence["failures"]
    assert failure["program"] == "/usr/local/bin/static-openssl"
    assert "EVP_DigestInit_ex" in failure["carried"]["symbols"]


def test_aws_node_shape_resolves_through_ld_library_path(static_scan):
    """cni-fips: the FIPS OpenSSL under /usr/local/openssl, found through the image's
    LD_LIBRARY_PATH, its provider through OPENSSL_MODULES."""
    result = static_scan("fipscheck/cni-fips:latest")["linkage.libcrypto"]
    assert result.status is Status.PASS, result.message
    [copy] = result.evidence["libcrypto_copies"]
    assert copy["fips_module"] == "/usr/local/openssl/lib64/ossl-modules/fips.so"
    steps = {r["found_by"] for p in result.evidence["programs"] for r in p["libcrypto"]}
    assert steps == {"LD_LIBRARY_PATH"}
    assert "/app/cni-agent" in result.evidence["static_go_programs"]


def test_static_go_programs_are_left_to_the_go_check_even_without_section_headers(static_scan):
    """A Go program is one for go.fips-toolchain, whether or not its section headers were
    stripped: its build info decides, as it does for that check."""
    result = static_scan("fipscheck/go-variants:latest")["linkage.libcrypto"]
    left = set(result.evidence["static_go_programs"])
    assert {"/opt/go-variants/bin/crypto-gofips140",
            "/opt/go-variants/bin/crypto-gofips140-no-sections"} <= left
