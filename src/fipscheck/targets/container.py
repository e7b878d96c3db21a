"""Targets backed by a Docker container: an already running container of the user's
(``--container NAME``), and the base of ImageTarget, whose container is fipscheck's own.

The filesystem comes from ``docker export`` of the container through the safe extraction of
``export.py``. For a running container that is its filesystem as it is now (image layers and
the container's writable layer; mounted volumes are not part of it). Reading
``/proc/PID/root`` instead would avoid the copy, but works only on the engine's own machine,
as root, and only while the process lives; the export works wherever the engine is.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound
from docker.models.containers import Container

from .. import progress
from ..errors import TargetError
from ..fs import RootFilesystem
from .base import ExecResult, Target, TargetConfig
from .engine import docker_client
from .export import ExtractStats, extract, scratch_dir


class DockerContainerTarget(Target):
    """Filesystem, exec and file copy over one container; subclasses decide whose it is."""

    can_run = True
    runner_name = "the Docker engine"

    def __init__(self, name: str, container: Container) -> None:
        super().__init__(name)
        self._container = container
        self._tmp: Path | None = None
        self._fs: RootFilesystem | None = None
        self.export_stats: ExtractStats | None = None

    @property
    def container_id(self) -> str:
        return self._container.id

    def _export_evidence(self) -> dict[str, Any]:
        """What the filesystem export held and what the safe extraction left out (device
        nodes, unsafe names, links out of the root), once the filesystem has been read."""
        if self.export_stats is None:
            return {}
        stats = self.export_stats
        return {"export": {"files": stats.files, "bytes": stats.bytes, "skipped": stats.skipped}}

    @property
    def filesystem(self) -> RootFilesystem:
        if self._fs is None:
            self._tmp = scratch_dir(self._image_size())
            try:
                with progress.during(f"exporting the filesystem of {self.name}"):
                    self.export_stats = extract(progress.counted(self._container.export()),
                                                self._tmp)
            except APIError as error:
                raise TargetError(f"cannot export {self.name}: {error.explanation}") from None
            self._fs = RootFilesystem(self._tmp)
        return self._fs

    def _image_size(self) -> int:
        """The image's size, to judge where its filesystem fits (0 when unknown)."""
        try:
            return int(self._container.image.attrs.get("Size") or 0)
        except (APIError, NotFound, TypeError, ValueError):
            return 0

    def runs_on(self) -> str | None:
        try:
            return self._container.client.info().get("Architecture") or None
        except APIError as error:
            raise TargetError(f"cannot ask the engine for its architecture: {error.explanation}") from None

    def _ready_to_exec(self) -> None:
        """Make sure the container can run a command: a running one can; ImageTarget starts
        its own here."""

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        self._ready_to_exec()
        try:
            result = self._container.exec_run(argv, environment=env, demux=True)
        except APIError as error:
            raise TargetError(f"cannot run {argv[0]} in {self.name}: {error.explanation}") from None
        out, err = result.output
        return ExecResult(tuple(argv), result.exit_code, out or b"", err or b"")

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
            ok = self._container.put_archive("/", buffer.getvalue())
        except APIError as error:
            raise TargetError(f"cannot copy {path} into {self.name}: {error.explanation}") from None
        if not ok:
            raise TargetError(f"cannot copy {path} into the container of {self.name}")

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp, self._fs = None, None


class ContainerTarget(DockerContainerTarget):
    """A running container that is not ours: fipscheck only looks and runs probes in it. It
    creates, starts, stops and removes nothing; files its probes copy in are deleted again."""

    kind = "container"

    def __init__(self, name: str) -> None:
        try:
            container = docker_client().containers.get(name)
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
        self._copied.append(path)

    def close(self) -> None:
        try:
            if self._copied:  # best effort: the container is the user's, and may lack rm
                self.exec(["rm", "-f", *self._copied])
        except TargetError:
            pass
        finally:
            self._copied.clear()
            super().close()
