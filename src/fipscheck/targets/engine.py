"""The Docker engine, reached through the Docker SDK on its socket (``DOCKER_HOST`` or the
default). Containers fipscheck creates carry labels naming the creating process, so that a
run killed before its cleanup is repaired by the next one."""

from __future__ import annotations

import os
import socket
import uuid

import docker
from docker.errors import DockerException, NotFound

from ..errors import TargetError

OWNER_LABEL = "org.fipscheck.owner"
PID_LABEL = "org.fipscheck.pid"
HOST_LABEL = "org.fipscheck.host"
TOKEN_LABEL = "org.fipscheck.token"  # unique per container, to find it when create() was interrupted


def docker_client() -> docker.DockerClient:
    try:
        return docker.from_env(timeout=300)
    except DockerException as error:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise TargetError(f"no Docker engine answers at {where}: {error}") from None


def ownership_labels(token: str) -> dict[str, str]:
    return {OWNER_LABEL: "fipscheck", PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname(),
            TOKEN_LABEL: token}


def create_owned_container(client: docker.DockerClient, image_id: str, **options):
    """Create a labelled container. Call it inside ``signals_deferred`` and store the result
    before leaving it. If creation fails after the engine made the container (the follow-up
    inspect failed), the container is removed by its token."""
    token = uuid.uuid4().hex
    try:
        return client.containers.create(image_id, labels=ownership_labels(token), **options)
    except Exception:
        remove_containers(client, {"label": f"{TOKEN_LABEL}={token}"})
        raise


def owned_containers(client: docker.DockerClient, filters: dict[str, str] | None = None) -> list:
    """Our containers, listed without inspecting each (one may vanish while we look)."""
    return client.containers.list(all=True, sparse=True,
                                  filters={"label": f"{OWNER_LABEL}=fipscheck", **(filters or {})})


def labels_of(container) -> dict[str, str]:
    return container.attrs.get("Labels") or {}


def creator_alive(labels: dict[str, str]) -> bool:
    """Whether the process that created a container (by its labels) still runs on this host."""
    return labels.get(HOST_LABEL) == socket.gethostname() and _alive(int(labels.get(PID_LABEL, "0")))


def remove_containers(client: docker.DockerClient, filters: dict[str, str]) -> None:
    for container in client.containers.list(all=True, sparse=True, filters=filters):
        remove_container(container)


def remove_container(container) -> None:
    """Remove a container; a second interrupt during removal gets one more attempt."""
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except KeyboardInterrupt:
        container.remove(force=True)
        raise


def reap_orphans(client: docker.DockerClient) -> list[str]:
    """Remove containers of ours whose creating process on this host no longer exists."""
    removed = []
    for container in owned_containers(client):
        labels = labels_of(container)
        if labels.get(HOST_LABEL) != socket.gethostname() or creator_alive(labels):
            continue
        remove_container(container)
        removed.append(container.id)
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
