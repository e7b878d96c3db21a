"""Fixtures shared by the test suite: the real Docker engine and the reference images that
``scripts/testbed setup`` builds. Nothing here is a mock."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import docker
import pytest

from fipscheck.targets.engine import HOST_LABEL, OWNER_LABEL, PID_LABEL

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


@dataclass(frozen=True)
class OurContainer:
    id: str
    name: str
    labels: dict[str, str]


def our_containers(engine: docker.DockerClient) -> list[OurContainer]:
    """fipscheck's containers, from one listing call: ``containers.list`` would inspect each
    one after listing, and fail when another run on the shared engine removes one meanwhile."""
    summaries = engine.api.containers(all=True, filters={"label": f"{OWNER_LABEL}=fipscheck"})
    return [OurContainer(s["Id"], s["Names"][0].lstrip("/"), s.get("Labels") or {})
            for s in summaries]


@pytest.fixture
def no_leaks(engine):
    """Fails the test if it leaves a container of fipscheck's behind. The engine is shared
    with other runs on this machine: a new container whose creating process is another one,
    still running, is that run's, not a leak (this process's own always count, and so do
    those of processes that ended: the test's subprocesses have ended by now)."""
    before = {c.id for c in our_containers(engine)}
    yield
    leaked = [c.name for c in our_containers(engine)
              if c.id not in before and not of_another_live_run(c.labels)]
    assert not leaked, f"containers left behind: {leaked}"


def of_another_live_run(labels: dict[str, str]) -> bool:
    pid = int(labels.get(PID_LABEL, "0"))
    if labels.get(HOST_LABEL) != socket.gethostname() or pid in (0, os.getpid()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


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
