"""The release files built from this checkout (scripts/wheels.py): the sdist holds the whole
repository; one cp310-abi3 manylinux2014 wheel per platform (x86_64 native, aarch64
cross-built), read back from their ELF files and by auditwheel; the x86_64 wheel installed
without a compiler, from files, in plain Debian images (trixie, bookworm, bullseye with a
Python 3.11 of its own) and in the FIPS CPython image, where `fipscheck status` runs."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

import fipscheck

REPO = Path(__file__).resolve().parent.parent
VERSION = fipscheck.__version__
MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}
OTHER = {"x86_64": "aarch64", "aarch64": "x86_64"}
NEWEST_GLIBC = (2, 17)  # manylinux2014
# the reference images with a Python >= 3.10 and no compiler, and the FIPS CPython's
INSTALL_IMAGES = {"fipscheck/python-trixie:latest": "3.13", "fipscheck/python-bookworm:latest": "3.11",
                  "fipscheck/python-bullseye:latest": "3.11", "fipscheck/python-fips:latest": "3.13"}


def test_the_build_warns_of_nothing(release):
    """Compiler and setuptools warnings ("warning:"), not pip's notes about this machine's
    package indexes ("WARNING: Location ... is ignored")."""
    assert [line for line in release["log"].splitlines() if "warning:" in line] == []


def test_the_sdist_is_the_repository(release):
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    with tarfile.open(release["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    generated = {m for m in members if m.startswith("src/fipscheck.egg-info/")} | {"PKG-INFO", "setup.cfg"}
    assert members - generated == set(tracked.stdout.split())


@pytest.mark.parametrize("arch", sorted(MACHINES))
def test_each_wheel_is_abi3_manylinux2014_for_its_machine(release, arch, tmp_path):
    wheel = release[arch]
    shown = json.loads(subprocess.run([str(Path(sys.executable).with_name("auditwheel")), "show", "--json",
                                       str(wheel)], capture_output=True, text=True, check=True).stdout)
    assert shown["overall_tag"] == f"manylinux_2_17_{arch}" and shown["external_libs"] == {}, shown
    with zipfile.ZipFile(wheel) as contents:
        contents.extractall(tmp_path)
        assert f"Tag: cp310-abi3-manylinux2014_{arch}" in contents.read(
            f"fipscheck-{VERSION}.dist-info/WHEEL").decode()
    package = tmp_path / "fipscheck"
    own = [package / "_native.abi3.so", package / "bin" / "fips-startup-check",
           package / "bin" / f"fipscheck-helper.{arch}"]
    other = [package / "bin" / OTHER[arch] / "fips-startup-check",
             package / "bin" / f"fipscheck-helper.{OTHER[arch]}"]
    for path in own + other:
        elf = read_elf(path)
        assert elf["machine"] == MACHINES[arch if path in own else OTHER[arch]], path
        assert elf["runpath"] == [], f"{path} carries {elf['runpath']}"
        assert all(version <= NEWEST_GLIBC for version in elf["glibc"]), (path, elf["glibc"])
    needed = set(read_elf(package / "_native.abi3.so")["needed"])
    assert "libdl.so.2" in needed  # glibc before 2.34 exports the dl* functions from there
    assert needed <= {"libc.so.6", "libdl.so.2", "ld-linux-aarch64.so.1"}  # (aarch64's stack guard)


def read_elf(path: Path) -> dict:
    """Machine, DT_RPATH/DT_RUNPATH, DT_NEEDED and the GLIBC_x.y versions a file asks for."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        found = {"machine": elf["e_machine"], "runpath": [], "needed": [], "glibc": set()}
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                        found["runpath"].append(tag.rpath if tag.entry.d_tag == "DT_RPATH" else tag.runpath)
                    elif tag.entry.d_tag == "DT_NEEDED":
                        found["needed"].append(tag.needed)
            elif isinstance(section, GNUVerNeedSection):
                for _, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        match = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", aux.name)
                        if match:
                            found["glibc"].add((int(match[1]), int(match[2])))
        return found


def test_metadata_license_urls_and_light_dependencies(release):
    license_text = (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text
    info = f"fipscheck-{VERSION}.dist-info"
    with zipfile.ZipFile(release["x86_64"]) as contents:
        metadata = HeaderParser().parsestr(contents.read(f"{info}/METADATA").decode())
        assert contents.read(f"{info}/licenses/LICENSE") == license_text
    assert metadata["License-Expression"] == "Apache-2.0" and metadata["License-File"] == "LICENSE"
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Source", "Issues", "Documentation"}
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: Pytest" in classifiers and "Programming Language :: Python :: 3.10" in classifiers
    required = metadata.get_all("Requires-Dist")
    core = sorted(r.split(">")[0].split(";")[0] for r in required if "extra ==" not in r)
    assert core == ["cffi", "javaproperties", "tomli"]  # tomli only before Python 3.11
    assert set(metadata.get_all("Provides-Extra")) >= {"docker", "host", "pytest", "zstd", "all"}
    with tarfile.open(release["sdist"]) as sdist:
        assert sdist.extractfile(f"fipscheck-{VERSION}/LICENSE").read() == license_text


@pytest.fixture(scope="session")
def install_wheels(release, tmp_path_factory) -> dict[str, bytes]:
    """Per Python version: a tar of /wheels with the x86_64 wheel, its dependencies' wheels and
    pip's own (downloaded on this host: a container reaches no index)."""
    archives = {}
    for python in sorted(set(INSTALL_IMAGES.values())):
        wheels = tmp_path_factory.mktemp(f"wheels-{python}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                        "--python-version", python, "--implementation", "cp", "--platform",
                        "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64", "--dest", str(wheels),
                        str(release["x86_64"]), "pip"], check=True, timeout=600)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.add(wheels, "wheels")
        archives[python] = buffer.getvalue()
    return archives


# pip from its own wheel, offline, wheels only; then what a user would run first
INSTALL_AND_RUN = """set -e
if command -v cc || command -v gcc; then echo "a compiler is installed" >&2; exit 90; fi
python3 "$(ls /wheels/pip-*.whl)/pip" install --quiet --no-index --find-links /wheels --only-binary=:all: \\
    --break-system-packages --root-user-action=ignore fipscheck
python3 -m fipscheck --version
"$(python3 -m fipscheck native-path)" --version
python3 -m fipscheck status --format json > /status.json || true
cat /status.json
"""


@pytest.mark.parametrize("name", sorted(INSTALL_IMAGES))
def test_the_wheel_installs_without_a_compiler_and_runs(engine, image, install_wheels, name):
    container = engine.containers.create(image(name), entrypoint=["sh", "-c", INSTALL_AND_RUN],
                                         network_mode="none")
    try:
        container.put_archive("/", install_wheels[INSTALL_IMAGES[name]])
        container.start()
        code = container.wait(timeout=300)["StatusCode"]
        out, err = container.logs(stderr=False).decode(), container.logs(stdout=False).decode()
    finally:
        container.remove(force=True)
    assert code == 0, err
    version_line, checker_line, report_text = out.split("\n", 2)
    assert version_line == f"fipscheck {VERSION}" and checker_line == f"fips-startup-check {VERSION}"
    report = json.loads(report_text)
    checks = {c["id"]: c for c in report["checks"]}
    assert report["target"]["kind"] == "process"
    # the cffi extension ran: the native checker's verdicts on the interpreter's own libcrypto
    native = checks["openssl.fips-mode"]["evidence"]
    assert native["libcrypto"]["family"] in ("openssl3", "openssl1"), native
    if name == "fipscheck/python-fips:latest":
        assert report["verdict"] == "pass", report
    else:  # plain Debian: OpenSSL without FIPS, and hashlib's builtin MD5
        assert checks["openssl.fips-mode"]["status"] == "fail" and report["verdict"] == "fail"


def test_the_core_and_the_plugin_without_extras(release, tmp_path):
    """`pip install fipscheck` plus pytest, nothing else: the core scans a directory, pytest
    runs with the plugin loaded, and an engine image is one error naming the extra."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(release["x86_64"]),
                    "pytest"], check=True, timeout=600)
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    installed = {p["name"].lower() for p in json.loads(listed)}
    assert not installed & {"docker", "requests", "pytest-testinfra", "urllib3"}, installed
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "libnettle.so.8").write_bytes(Path("/usr/bin/true").read_bytes())
    scanned = subprocess.run([str(venv / "bin" / "fipscheck"), "scan", "--rootfs", str(root)],
                             capture_output=True, text=True, timeout=300)
    assert scanned.returncode == 1 and "FAIL   libraries.banned" in scanned.stdout, scanned.stderr
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    plain = subprocess.run([str(venv / "bin" / "pytest"), "-p", "no:cacheprovider", "test_plain.py"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and "plugins: fipscheck" in plain.stdout, plain.stdout
    image = subprocess.run([str(venv / "bin" / "pytest"), "-p", "no:cacheprovider", "--fips-image=app:1"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert image.returncode == 1 and "1 error" in image.stdout, image.stdout
    assert ("images of a Docker engine need the Docker SDK, which is not installed: "
            "pip install 'fipscheck[docker]'") in image.stdout
