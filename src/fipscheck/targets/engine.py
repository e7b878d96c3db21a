"""The Docker engine, reached through the Docker SDK where the docker CLI would reach it
(``DOCKER_HOST``, else the current Docker context: ``DOCKER_CONTEXT`` or ``docker context
use``, else the default socket), and the containers fipscheck creates in it.

A container is fipscheck's only if this or an earlier run recorded its name (and this
engine's ID) in its run directory (``workdir``) before creating it. Its labels
(``org.fipscheck.*``) are for people and for listing; they never decide what is removed: an
image can declare the same labels, and every container made from it inherits them."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import docker
import requests
from docker.constants import DEFAULT_UNIX_SOCKET
from docker.context import ContextAPI
from docker.context.config import get_current_context_name
from docker.errors import APIError, DockerException, NotFound

from .. import workdir
from ..errors import TargetError

if TYPE_CHECKING:
    from docker.models.containers import Container

OWNER_LABEL = "org.fipscheck.owner"
PID_LABEL = "org.fipscheck.pid"
HOST_LABEL = "org.fipscheck.host"
REMOVAL_WAIT = 60  # seconds to wait for a removal the engine already has in progress
# Seconds after which a create request cut off by a killed run has surely been finished or
# refused by the engine (the SDK's own timeout is 300 s; the engine goes on without a client).
CREATE_SETTLED = 900


class EngineError(TargetError):
    """The Docker engine stopped answering (connection refused, socket gone, timeout)."""


def engine_address() -> str:
    """Where ``docker_client()`` looks for the engine, for messages: ``DOCKER_HOST``, else the
    current context's endpoint (named, unless it is the default context)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    name = _context_name()
    try:
        context = ContextAPI.get_context(name)
    except DockerException as error:
        return f"the Docker context {name!r} ({reason(error)})"
    host = (context.Host if context is not None else None) or DEFAULT_UNIX_SOCKET
    return host if name == "default" else f"{host} (Docker context {name!r})"


def _context_name() -> str:
    return os.environ.get("DOCKER_CONTEXT") or get_current_context_name()


def docker_client() -> docker.DockerClient:
    """A client of the engine where the docker CLI would find it (docker>=7.2 honours the
    Docker contexts); TargetError naming where it looked when none answers there. A context
    that does not exist is refused, as the docker CLI refuses it (the SDK would fall back to
    the default socket: another engine than the one asked for)."""
    if not os.environ.get("DOCKER_HOST") and _context_name() != "default":
        try:
            missing = ContextAPI.get_context(_context_name()) is None
        except DockerException as error:
            raise TargetError(f"cannot read the Docker context {_context_name()!r}: "
                              f"{reason(error)}") from None
        if missing:
            raise TargetError(f"no Docker context {_context_name()!r} (DOCKER_CONTEXT or `docker "
                              "context use`): create it, or set DOCKER_HOST") from None
    try:
        return docker.from_env(timeout=300)
    except DockerException as error:
        raise TargetError(f"no Docker engine answers at {engine_address()} ({reason(error)}): "
                          "start one, or point DOCKER_HOST or a Docker context at one") from None


def reason(error: BaseException) -> str:
    """The cause of an SDK error in a few words ("No such file or directory", "Connection
    refused"): the innermost operating-system error among its causes and arguments, rather
    than the SDK's nested reprs."""
    seen: set[int] = set()
    pending: list[object] = [error]
    found: OSError | None = None
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            found = item
        pending.extend([*item.args, item.__cause__, item.__context__])
    if found is not None:
        return found.strerror or type(found).__name__
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """Turn the SDK's transport failures (the engine died or went away) into EngineError;
    the engine's own answers (APIError) pass through for the caller to word."""
    try:
        yield
    except APIError:
        raise
    except (requests.exceptions.RequestException, DockerException) as error:
        raise EngineError(f"the Docker engine at {engine_address()} stopped answering: "
                          f"{type(error).__name__}") from None


def ownership_labels() -> dict[str, str]:
    return {OWNER_LABEL: "fipscheck", PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname()}


@functools.lru_cache(maxsize=8)
def engine_id(client: docker.DockerClient) -> str:
    """Which engine a client talks to, for container records: the engine's own ID (unique
    per engine, whatever address reaches it), else its address."""
    with engine_errors():
        return str(client.info().get("ID") or "") or f"the engine at {engine_address()}"


def create_owned_container(client: docker.DockerClient, image_id: str, **options: Any) -> Container:
    """Create a container recorded as this run's (name and engine first, ID once known). Call
    it inside ``signals_deferred`` and store the result before leaving it. If creation fails,
    the record goes once the engine refused the create or confirms the container gone."""
    name = f"fipscheck-{uuid.uuid4().hex[:24]}"
    engine = engine_id(client)
    workdir.record_container(name, engine)
    try:
        with engine_errors():
            container = client.containers.create(image_id, name=name, labels=ownership_labels(),
                                                 **options)
    except BaseException as error:
        with contextlib.suppress(Exception):
            record = workdir.ContainerRecord(engine, recorded=time.time())
            if _refused_create(error) or remove_recorded(client, {name: record}).gone:
                workdir.forget_container(name)
        raise
    workdir.record_container(name, engine, cast(str, container.id))  # a created container has an ID
    return container


def _refused_create(error: BaseException) -> bool:
    """The engine answered the create request itself with an error: it made no container."""
    request = error.response.request if isinstance(error, APIError) and error.response is not None else None
    return request is not None and request.method == "POST" \
        and (request.path_url or "").split("?")[0].endswith("/containers/create")


def owned_containers(client: docker.DockerClient, filters: dict[str, str] | None = None) -> list[Container]:
    """Containers labelled as fipscheck's (for people and tests: labels prove no ownership),
    listed without inspecting each (one may vanish while we look)."""
    return client.containers.list(all=True, sparse=True,
                                  filters={"label": f"{OWNER_LABEL}=fipscheck", **(filters or {})})


def labels_of(container: Container) -> dict[str, str]:
    labels: dict[str, str] = container.attrs.get("Labels") or {}
    return labels


def remove_container(container: Container) -> None:
    """Remove one of our containers and forget its record. An engine that is already
    removing it (409, e.g. after an interrupted request) is waited for."""
    name = _name_of(container)
    with engine_errors():
        try:
            container.remove(force=True)
        except NotFound:
            pass
        except APIError as error:
            if error.status_code != 409 or not _gone_within(container, REMOVAL_WAIT):
                raise TargetError(f"cannot remove container {name or cast(str, container.id)[:12]}: "
                                  f"{error.explanation}") from None
    if name:
        workdir.forget_container(name)


def _name_of(container: Container) -> str:
    """The name, from an inspection (``Name``) or a sparse listing (``Names``)."""
    name: str = container.attrs.get("Name") or (container.attrs.get("Names") or [""])[0]
    return name.lstrip("/")


def _gone_within(container: Container, seconds: float) -> bool:
    """Whether the engine says the container is gone (by its ID) within seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            container.reload()
        except NotFound:
            return True
        time.sleep(0.2)
    return False


def remove_recorded(client: docker.DockerClient,
                    records: dict[str, workdir.ContainerRecord]) -> workdir.Judged:
    """Remove the recorded containers of a dead run and say which this engine confirms gone:
    records of another engine are left to it (there the name means nothing here), and a
    container is gone only when this engine, asked again by its ID after the removal, no
    longer knows it. Raises EngineError or TargetError when the engine cannot be asked."""
    here = engine_id(client)
    judged = workdir.Judged()
    for name, record in records.items():
        if record.engine != here:
            judged.other_engines[name] = record.engine or "an engine earlier versions did not record"
            continue
        why = _removed(client, name, record)
        if why:
            judged.kept[name] = why
        else:
            judged.gone.append(name)
    return judged


def _removed(client: docker.DockerClient, name: str, record: workdir.ContainerRecord) -> str:
    """Remove one recorded container of this engine: "" once the engine confirms it gone,
    else why it stays recorded."""
    with engine_errors():
        try:
            # by ID when known (exact IDs resolve first), else by the name recorded before creation
            container = client.containers.get(record.id or name)
        except NotFound:
            container = None
    if container is None or (record.id and container.id != record.id):  # (or a stranger
        if record.id:                                                     # named like our ID)
            return ""  # the engine that made it no longer knows its ID
        age = time.time() - record.recorded
        if age > CREATE_SETTLED:
            return ""  # never made: the engine has long finished or refused the create
        return f"not (yet) made: the engine may still be creating it ({age:.0f} s after it was asked)"
    remove_container(container)
    with engine_errors():
        try:
            state = client.api.inspect_container(cast(str, container.id)).get("State") or {}
        except NotFound:
            return ""
    return f"still there after its removal (state {state.get('Status', 'unknown')})"


def reap_orphans(client: docker.DockerClient) -> workdir.Reaped:
    """Remove what runs that ended without cleaning up left: their run directories and the
    containers recorded there (never one of a run still going, wherever it runs)."""
    return workdir.reap(functools.partial(remove_recorded, client))
