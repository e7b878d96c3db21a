"""A container image, instantiated as a container of ours.

The container is created with the image's entrypoint bypassed, no network and our labels.
Its filesystem is read from ``docker export`` of the created container, before it is ever
started; it is started (with a command that only waits) the first time a runtime probe needs
to run something inside it. ``close`` removes both, whatever happened before.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from docker.errors import APIError, ImageNotFound

from ..errors import TargetError
from ..fs import RootFilesystem
from .base import ExecResult, Target, TargetConfig
from .engine import (
    create_owned_container,
    docker_client,
    reap_orphans,
    remove_container,
    signals_deferred,
)
from .export import ExtractStats, extract

KEEPALIVE = ["sleep", "infinity"]


class ImageTarget(Target):
    kind = "image"
    can_run = True

    def __init__(self, image: str) -> None:
        super().__init__(image)
        self._client = docker_client()
        reap_orphans(self._client)
        try:
            self._image = self._client.images.get(image)
        except ImageNotFound:
            raise TargetError(f"no such image: {image}") from None
        except APIError as error:
            raise TargetError(f"cannot inspect image {image}: {error.explanation}") from None
        self._tmp: Path | None = None
        self._fs: RootFilesystem | None = None
        self.export_stats: ExtractStats | None = None
        self._started = False
        self._container = None
        try:
            with signals_deferred():  # an interrupt is delivered once the container is ours
                self._container = create_owned_container(
                    self._client, self._image.id, entrypoint=KEEPALIVE, command=[],
                    network_mode="none", detach=True)
        except APIError as error:
            raise TargetError(f"cannot create a container from {image}: {error.explanation}") from None
        except BaseException:
            if self._container is not None:  # interrupted right after creation
                remove_container(self._container)
            raise

    @property
    def container_id(self) -> str:
        return self._container.id

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "image_id": self._image.id,
                "tags": list(self._image.tags)}

    @property
    def config(self) -> TargetConfig:
        cfg = self._image.attrs.get("Config") or {}
        env = dict(item.split("=", 1) for item in cfg.get("Env") or [] if "=" in item)
        return TargetConfig(env=env, entrypoint=tuple(cfg.get("Entrypoint") or ()),
                            cmd=tuple(cfg.get("Cmd") or ()), user=cfg.get("User") or "")

    @property
    def filesystem(self) -> RootFilesystem:
        if self._fs is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fipscheck-rootfs-"))
            try:
                self.export_stats = extract(self._container.export(), self._tmp)
            except APIError as error:
                raise TargetError(f"cannot export {self.name}: {error.explanation}") from None
            self._fs = RootFilesystem(self._tmp)
        return self._fs

    def _ensure_started(self) -> None:
        if self._started:
            return
        try:
            self._container.start()
            self._container.reload()
        except APIError as error:
            raise TargetError(f"cannot start a container of {self.name}: {error.explanation}") from None
        if self._container.status != "running":
            raise TargetError(f"the container of {self.name} did not stay up "
                              f"(status {self._container.status}; it needs `sleep` to idle)")
        self._started = True

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        self._ensure_started()
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
        try:
            remove_container(self._container)
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
