"""Targets backed by a Docker container: an already running container of the user's
(``--container NAME``), and the base of ImageTarget, whose container is fipscheck's own.

The filesystem comes from ``docker export`` of the container through the safe extraction of
``export.py``, once: a failure (a full or read-only temp directory, a cut stream) is kept and
given to everything that needs the filesystem, and the partial directory is removed. For a
running container that is its filesystem as it is now (image layers and the container's
writable layer; mounted volumes are not part of it). Reading ``/proc/PID/root`` instead would
avoid the copy, but works only on the engine's own machine, as root, and only while the
process lives; the export works wherever the engine is.

Every command is run through fipscheck's static helper, copied into the container first
(``/.fipscheck/fipscheck-helper``): it kills the command at a deadline or when its output
passes a cap. The host side bounds the same exec again (deadline plus a grace, twice the cap),
in case what runs in the container is not our helper any more.
"""

from __future__ import annotations

import io
import os
import select
import shutil
import struct
import tarfile
import time
from typing import TYPE_CHECKING, Any, Protocol, cast

from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.utils.socket import read as read_socket

from .. import progress
from ..errors import EvidenceError, FipscheckError, TargetError
from ..fs import RootFilesystem
from ..native import helper_path
from .base import ExecResult, Target, TargetConfig
from .engine import docker_client, engine_errors, reap_orphans
from .export import ExtractStats, Scratch, extract, scratch_dir

if TYPE_CHECKING:
    from collections.abc import Iterator

    from docker import APIClient, DockerClient
    from docker.models.images import Image

HELPER = "/.fipscheck/fipscheck-helper"
MAX_OUTPUT = 16 << 20  # bytes of stdout and stderr together, per command
DEFAULT_DEADLINE = 120  # seconds per command; FIPSCHECK_EXEC_DEADLINE overrides
HOST_GRACE = 15  # seconds the host waits past the deadline before it gives up itself
LIMIT_EXIT = 125
LIMIT_LINE = b"fipscheck-helper: limit: "


def exec_deadline() -> int:
    """Seconds a command in a container may run (FIPSCHECK_EXEC_DEADLINE, default 120)."""
    value = os.environ.get("FIPSCHECK_EXEC_DEADLINE", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_DEADLINE


class DockerContainerTarget(Target):
    """Filesystem, exec and file copy over one container; subclasses decide whose it is."""

    can_run = True
    runner_name = "the Docker engine"

    def __init__(self, name: str, container: Container) -> None:
        super().__init__(name)
        self._container = container
        self.scratch: Scratch | None = None
        self._fs: RootFilesystem | None = None
        self._fs_error: FipscheckError | None = None
        self._helper_copied = False
        self.export_stats: ExtractStats | None = None

    @property
    def container_id(self) -> str:
        return cast(str, self._container.id)  # the engine's containers all have an ID

    def _export_evidence(self) -> dict[str, Any]:
        """Where the filesystem was unpacked and why, what the export held and what the safe
        extraction left out (device nodes, unsafe names, links out of the root)."""
        evidence: dict[str, Any] = {}
        if self.scratch is not None:
            evidence.update(self.scratch.to_dict())
        if self.export_stats is not None:
            stats = self.export_stats
            evidence.update(files=stats.files, bytes=stats.bytes, skipped=stats.skipped)
        if self._fs_error is not None:
            evidence["error"] = str(self._fs_error)
        return {"export": evidence} if evidence else {}

    @property
    def filesystem(self) -> RootFilesystem:
        if self._fs is None:
            if self._fs_error is None:
                try:
                    self._fs = self._read_filesystem()
                except FipscheckError as error:
                    self._fs_error = error
            if self._fs_error is not None:
                raise self._fs_error.with_traceback(None)
        assert self._fs is not None  # read above, or its error raised
        return self._fs

    def _read_filesystem(self) -> RootFilesystem:
        """Export the container once into a new directory of this run; on any failure the
        partial directory goes."""
        self.scratch = scratch_dir(self._image_size())
        where = f"{self.scratch.path} ({self.scratch.medium})"
        whole = False
        try:
            with engine_errors(), progress.during(f"exporting the filesystem of {self.name}"):
                # types-docker says str; the SDK yields the export's byte chunks
                chunks = cast("Iterator[bytes]", self._container.export())
                self.export_stats = extract(progress.counted(chunks), self.scratch.path)
            whole = True
        except APIError as error:
            raise TargetError(f"cannot export {self.name}: {error.explanation}") from None
        except OSError as error:
            raise EvidenceError(f"cannot unpack the filesystem of {self.name} into {where}: "
                                f"{error.strerror or error}") from None
        finally:
            if not whole:
                shutil.rmtree(self.scratch.path, ignore_errors=True)
        return RootFilesystem(self.scratch.path)

    def _image_attrs(self) -> dict[str, Any]:
        try:
            with engine_errors():
                # a container always has an image (None only if its inspection names none)
                return cast("Image", self._container.image).attrs
        except (APIError, NotFound):
            return {}

    def _image_size(self) -> int:
        """The image's size, to judge where its filesystem fits (0 when unknown)."""
        try:
            return int(self._image_attrs().get("Size") or 0)
        except (TypeError, ValueError):
            return 0

    def runs_on(self) -> str | None:
        try:
            # the SDK's models always have the client they were found with
            return cast("DockerClient", self._container.client).info().get("Architecture") or None
        except APIError as error:
            raise TargetError(f"cannot ask the engine for its architecture: {error.explanation}") from None

    def _ready_to_exec(self) -> None:
        """Make sure the container can run a command through our helper."""
        if not self._helper_copied:
            arch = self._image_attrs().get("Architecture") or "amd64"
            self.put_file(HELPER, helper_path(arch).read_bytes())
            self._helper_copied = True

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        """Run argv in the container through the helper, bounded by ``exec_deadline()`` and
        MAX_OUTPUT; past either an EvidenceError names the limit."""
        self._ready_to_exec()
        deadline = exec_deadline()
        done = self._exec_bounded([HELPER, "run", str(deadline), str(MAX_OUTPUT), "--", *argv],
                                  env, deadline + HOST_GRACE, 2 * MAX_OUTPUT + (64 << 10))
        if done.exit_code == LIMIT_EXIT and LIMIT_LINE in done.stderr[-512:]:
            limit = done.stderr[done.stderr.rindex(LIMIT_LINE) + len(LIMIT_LINE):]
            raise EvidenceError(f"{argv[0]} in {self.name}: {limit.decode(errors='replace').strip()}")
        return ExecResult(tuple(argv), done.exit_code, done.stdout, done.stderr)

    def _exec_bounded(self, argv: list[str], env: dict[str, str] | None, seconds: float,
                      cap: int) -> ExecResult:
        """One exec through the engine's API, read with a deadline and a cap on this side."""
        try:
            with engine_errors():
                api = cast("DockerClient", self._container.client).api
                exec_id = api.exec_create(self._container.id, argv, environment=env)["Id"]
                # a socket, SocketIO or ssh channel (types-docker's union also names a
                # buffered stream, which has no fileno)
                sock = cast("_ExecSocket", api.exec_start(exec_id, socket=True))
                try:
                    out, err = _read_frames(sock, time.monotonic() + seconds, cap, argv[0], self.name)
                finally:
                    sock.close()
                code = _exit_code(api, exec_id)
        except APIError as error:
            raise TargetError(f"cannot run {argv[0]} in {self.name}: {error.explanation}") from None
        return ExecResult(tuple(argv), code, out, err)

    def put_file(self, path: str, data: bytes, mode: int = 0o755) -> None:
        """Copy a file into the container, creating its parent directories (meant for
        fipscheck's own directory, e.g. ``/.fipscheck/``, not the image's)."""
        parts = [p for p in path.split("/") if p]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for depth in range(1, len(parts)):
                directory = tarfile.TarInfo("/".join(parts[:depth]))
                directory.type, directory.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(directory)
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
        try:
            with engine_errors():
                ok = self._container.put_archive("/", buffer.getvalue())
        except APIError as error:
            raise TargetError(f"cannot copy {path} into {self.name}: {error.explanation}") from None
        if not ok:
            raise TargetError(f"cannot copy {path} into the container of {self.name}")

    def close(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch.path, ignore_errors=True)
            self._fs = None


class _ExecSocket(Protocol):
    """The raw stream of an exec as the engine's API hands it over (a socket, SocketIO or ssh
    channel), read through the SDK's ``docker.utils.socket.read``."""

    def fileno(self) -> int: ...

    def close(self) -> object: ...


def _read_frames(sock: _ExecSocket, deadline: float, cap: int, command: str,
                 where: str) -> tuple[bytes, bytes]:
    """stdout and stderr of an exec from the engine's multiplexed stream (8-byte frame
    headers: stream, 3 zero bytes, big-endian length), within the deadline and the cap."""
    streams = {1: bytearray(), 2: bytearray()}
    pending = bytearray()
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise EvidenceError(f"{command} in {where} was still running when fipscheck's own "
                                f"deadline passed")
        if not poll.poll(min(left, 1.0) * 1000):
            continue
        chunk = read_socket(sock, 1 << 16)  # the SDK's read: sockets, SocketIO, ssh channels
        if not chunk:
            break
        pending += chunk
        while len(pending) >= 8:
            stream, size = struct.unpack(">BxxxL", pending[:8])
            if len(pending) < 8 + size:
                break
            streams.get(stream, streams[1]).extend(pending[8:8 + size])
            del pending[:8 + size]
        if len(streams[1]) + len(streams[2]) + len(pending) > cap:
            raise EvidenceError(f"{command} in {where} printed more than {cap} bytes")
    return bytes(streams[1]), bytes(streams[2])


def _exit_code(api: APIClient, exec_id: str) -> int:
    """The exec's exit code; the engine may report it a moment after the stream ends."""
    for _ in range(50):
        state = api.exec_inspect(exec_id)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        time.sleep(0.1)
    raise TargetError(f"the engine reports no exit code for exec {exec_id[:12]}")


class ContainerTarget(DockerContainerTarget):
    """A running container that is not ours: fipscheck only looks and runs probes in it. It
    creates, starts, stops and removes nothing; files its probes copy in are deleted again."""

    kind = "container"

    def __init__(self, name: str) -> None:
        client = docker_client()
        try:
            with engine_errors():
                reap_orphans(client)
                container = client.containers.get(name)
        except NotFound:
            raise TargetError(f"no such container: {name}") from None
        except APIError as error:
            raise TargetError(f"cannot inspect container {name}: {error.explanation}") from None
        if container.status != "running":
            raise TargetError(f"container {name} is {container.status}, not running (fipscheck "
                              "does not start containers it does not own)")
        super().__init__(name, container)
        self._copied: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "container_id": self._container.id,
                "image": self._container.attrs.get("Config", {}).get("Image", ""),
                "image_id": self._container.attrs.get("Image", ""), **self._export_evidence()}

    @property
    def config(self) -> TargetConfig:
        return TargetConfig.from_docker(self._container.attrs.get("Config"))

    def put_file(self, path: str, data: bytes, mode: int = 0o755) -> None:
        super().put_file(path, data, mode)
        if path not in self._copied:
            self._copied.append(path)

    def close(self) -> None:
        """Delete what was copied in, by the helper itself (the container may have no rm)."""
        try:
            if self._copied and self._helper_copied:
                self._exec_bounded([HELPER, "remove", *self._copied], None, 30, 1 << 16)
        except FipscheckError:
            pass  # best effort: the container is the user's, and may have gone meanwhile
        finally:
            self._copied.clear()
            super().close()
