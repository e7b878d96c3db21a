"""Fixtures shared by the test suite: the real Docker engine and the reference images that
``scripts/testbed setup`` builds. Nothing here is a mock."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
import zipfile

import docker
import pytest

from fipscheck.model import CheckResult
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget
from fipscheck.targets.engine import (
    OWNER_LABEL,
    PID_LABEL,
    creator_alive,
    labels_of,
    owned_containers,
)

pytest_plugins = ["pytester"]

REFERENCE = "fipscheck/openssl-fips:latest"


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    try:
        return docker.from_env()
    except docker.errors.DockerException as error:
        pytest.fail(f"no Docker engine: run scripts/testbed setup ({error})")


@pytest.fixture(scope="session")
def image(engine):
    """Name of a reference image, asserted to exist (scripts/testbed setup builds them)."""
    def named(name: str) -> str:
        try:
            engine.images.get(name)
        except docker.errors.ImageNotFound:
            pytest.fail(f"reference image {name} is missing: run scripts/testbed setup")
        return name
    return named


def our_containers(engine: docker.DockerClient) -> list:
    return owned_containers(engine)


def pid_of(container) -> str:
    return labels_of(container).get(PID_LABEL, "")


def not_another_live_run(container) -> bool:
    return _ours_or_ended(labels_of(container))


def _ours_or_ended(labels: dict[str, str]) -> bool:
    """The engine is shared with other runs on this machine: a container whose creator is
    another process, still running, is that run's. This process's own always count, and so do
    those of processes that ended (a test's subprocesses have ended when it checks)."""
    return labels.get(PID_LABEL) == str(os.getpid()) or not creator_alive(labels)


def containers_created_since(engine: docker.DockerClient, since: float, *pids: int) -> list[str]:
    """Names of fipscheck's containers created since ``since`` (a time.time()) by this process
    or the given ones, removed since or not: the engine's event log, not a listing."""
    creators = {str(pid) for pid in (os.getpid(), *pids)}
    events = engine.events(since=int(since), until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create",
                                    "label": f"{OWNER_LABEL}=fipscheck"})
    return [e["Actor"]["Attributes"].get("name", "?") for e in events
            if e["Actor"]["Attributes"].get(PID_LABEL) in creators]


DOUBLES = os.path.join(os.path.dirname(__file__), "tests", "doubles")


@pytest.fixture(scope="session")
def double(tmp_path_factory):
    """Builds one of the test doubles in tests/doubles/ into a shared library: ``double(name)``,
    or ``double(name, *cc_arguments, filename=...)`` for another build of it; all of them in
    one directory, which can be given to the linker (-L) and the loader (LD_LIBRARY_PATH)."""
    built = tmp_path_factory.mktemp("doubles")

    def build(name: str, *arguments: str, filename: str | None = None) -> str:
        library = built / (filename or f"{name}.so")
        if not library.exists():
            subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library),
                            os.path.join(DOUBLES, f"{name}.c"), *arguments], check=True)
        return str(library)
    return build


@pytest.fixture
def no_leaks(engine):
    """Fails the test if it leaves a container of fipscheck's behind."""
    before = {c.id for c in our_containers(engine)}
    yield
    leaked = [c.id[:12] for c in our_containers(engine)
              if c.id not in before and not_another_live_run(c)]
    assert not leaked, f"containers left behind: {leaked}"


@pytest.fixture(scope="session")
def run_in(engine):
    """Run a shell command inside a fresh container of an image (no network), removed after."""
    def run(image_name: str, command: str) -> tuple[int, str]:
        container = engine.containers.create(image_name, entrypoint=["sh", "-c", command],
                                             network_mode="none")
        try:
            container.start()
            code = container.wait(timeout=120)["StatusCode"]
            return code, container.logs().decode()
        finally:
            container.remove(force=True)
    return run


# python-fips's own site directory (Debian's patches to CPython name it dist-packages)
SITE_PACKAGES = "usr/local/lib/python3.13/dist-packages"
# Where pip may find wheels for python-fips's CPython 3.13 (glibc 2.41).
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")


@pytest.fixture(scope="session")
def cryptography_wheel_image(engine, image, tmp_path_factory):
    """python-fips plus what `pip install cryptography` gives: a wheel whose extension carries
    its own OpenSSL. Made here, not by scripts/images.py, because pip reaches an index only
    with this host's configuration; removed at the end of the session."""
    wheels = tmp_path_factory.mktemp("wheels")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--python-version", "3.13", "--implementation", "cp", *platforms,
                    "--dest", str(wheels), "cryptography"], check=True, timeout=600)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as contents:
                for member in contents.infolist():
                    if member.is_dir():
                        continue
                    info = tarfile.TarInfo(f"{SITE_PACKAGES}/{member.filename}")
                    info.size, info.mode = member.file_size, 0o644
                    archive.addfile(info, contents.open(member))
    container = engine.containers.create(image("fipscheck/python-fips:latest"), entrypoint=["true"],
                                         network_mode="none")
    repository, tag = "fipscheck-test/python-fips-cryptography-wheel", str(os.getpid())
    try:
        container.put_archive("/", buffer.getvalue())
        made = container.commit(repository=repository, tag=tag)
    finally:
        container.remove(force=True)
    yield f"{repository}:{tag}"
    engine.images.remove(made.id, force=True)


@pytest.fixture(scope="session")
def running(engine, image):
    """Start a container of a reference image as a user would (its own entrypoint, no
    network, no fipscheck labels) and return it; removed at the end of the session."""
    started = []

    def start(image_name: str):
        container = engine.containers.run(image(image_name), detach=True, network_mode="none")
        started.append(container)
        container.reload()
        assert container.status == "running", container.logs().decode()
        return container

    yield start
    for container in started:
        container.remove(force=True)


def host_fips_enabled() -> str | None:
    """This machine's kernel FIPS switch, read directly (None: the kernel has none)."""
    try:
        with open("/proc/sys/crypto/fips_enabled") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="session")
def image_checks(image):
    """A scan of a reference image (every check, or the ones named), done once per session for
    each image and set of checks; results by check ID."""
    reports: dict[tuple[str, tuple[str, ...]], dict[str, CheckResult]] = {}

    def scanned(name: str, checks: list[str] | None = None) -> dict[str, CheckResult]:
        key = (name, tuple(checks or ()))
        if key not in reports:
            with ImageTarget(image(name)) as target:
                reports[key] = {r.id: r for r in scan(target, checks=checks).checks}
        return reports[key]
    return scanned


@pytest.fixture(scope="session")
def static_scan(image_checks):
    """The static checks (linkage.libcrypto, libraries.banned) on a reference image."""
    return lambda name: image_checks(name, ["linkage.libcrypto", "libraries.banned"])
