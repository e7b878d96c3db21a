"""The Docker engine, reached through the Docker SDK on its socket (``DOCKER_HOST`` or the
default). Containers fipscheck creates carry labels naming the creating process, so that a
run killed before its cleanup is repaired by the next one."""

from __future__ import annotations

import os
import socket

import docker
from docker.errors import DockerException, NotFound

from ..errors import TargetError

OWNER_LABEL = "org.fipscheck.owner"
PID_LABEL = "org.fipscheck.pid"
HOST_LABEL = "org.fipscheck.host"


def docker_client() -> docker.DockerClient:
    try:
        return docker.from_env(timeout=300)
    except DockerException as error:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise TargetError(f"no Docker engine answers at {where}: {error}") from None


def ownership_labels() -> dict[str, str]:
    return {OWNER_LABEL: "fipscheck", PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname()}


def reap_orphans(client: docker.DockerClient) -> list[str]:
    """Remove containers of ours whose creating process on this host no longer exists."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}=fipscheck"}):
        labels = container.labels
        if labels.get(HOST_LABEL) != socket.gethostname() or _alive(int(labels.get(PID_LABEL, "0"))):
            continue
        try:
            container.remove(force=True)
            removed.append(container.id)
        except NotFound:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
