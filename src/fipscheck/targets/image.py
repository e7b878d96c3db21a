"""A container image, instantiated as a container of ours.

The container is created (recorded first in this run's directory, see ``workdir``) with the
image's entrypoint replaced by fipscheck's own static helper as a keepalive, so no program of
the image keeps it alive and images without ``sleep``, a shell or a libc (FROM scratch,
distroless) can host the runtime probes. It has no network, no healthcheck, no logging, no
capabilities, ``no-new-privileges``, memory and PID limits, and a lease after which it stops
and the engine removes it (a safety net for a run killed outright on another machine).

Its filesystem is read completely from ``docker export`` before anything in it starts: the
container is started only through ``_ready_to_exec``, which reads the filesystem first, so no
order of checks can let the image's code run before its files are read. ``close`` removes the
container and the unpacked files, whatever happened before.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, cast

from docker.errors import APIError
from docker.types import LogConfig

from ..errors import FipscheckError, TargetError
from ..interrupts import cleanup_shielded, signals_deferred
from .base import TargetConfig
from .container import HELPER, DockerContainerTarget
from .engine import (
    create_owned_container,
    docker_client,
    engine_errors,
    reap_orphans,
    remove_container,
)
from .oci import Platform
from .pull import describe_engine_image, engine_image, platform_of, platform_problem

LEASE = 12 * 3600  # seconds a container of ours lives at most


def container_options() -> dict[str, Any]:
    """How fipscheck's container of an image is made: nothing of the image runs by itself."""
    return {"entrypoint": [HELPER, "wait", str(LEASE)], "command": [], "network_mode": "none",
            "healthcheck": {"test": ["NONE"]}, "log_config": LogConfig(type="none"),
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "mem_limit": "1g", "pids_limit": 256, "auto_remove": True}


class ImageTarget(DockerContainerTarget):
    kind = "image"

    def __init__(self, image: str, pull: str = "missing", platform: Platform | None = None) -> None:
        client = docker_client()
        with engine_errors():
            reap_orphans(client)
            self._image = engine_image(client, image, pull, platform)
            self._platform_problem = platform_problem(client, platform_of(self._image.attrs))
        container = None
        try:
            # Interrupts (Ctrl-C, SIGTERM) are held until this object holds the container, so
            # none can fall between the engine making it and us knowing it.
            with signals_deferred():
                # an inspected image has an ID
                container = create_owned_container(client, cast(str, self._image.id), **container_options())
                super().__init__(image, container)
            self._started = False
            self._start_error: FipscheckError | None = None
        except APIError as error:
            raise TargetError(f"cannot create a container from {image}: {error.explanation}") from None
        except BaseException:
            if container is not None:  # interrupted right after creation
                with cleanup_shielded():
                    remove_container(container)
            raise

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "source": "docker",
                **describe_engine_image(self._image), **self._export_evidence()}

    @property
    def can_run(self) -> bool:  # type: ignore[override]
        return not self._platform_problem

    @property
    def cannot_run_reason(self) -> str:
        return self._platform_problem or super().cannot_run_reason

    @property
    def config(self) -> TargetConfig:
        return TargetConfig.from_docker(self._image.attrs.get("Config"))

    def _image_attrs(self) -> dict[str, Any]:
        return self._image.attrs

    def _ready_to_exec(self) -> None:
        """Start the container the first time something must run in it: only after its whole
        filesystem has been read (an error reading it is this one's error too)."""
        if self._started:
            return
        if self._start_error is None:
            try:
                self._start()
            except FipscheckError as error:
                self._start_error = error
        if self._start_error is not None:
            raise self._start_error.with_traceback(None)
        self._started = True

    def _start(self) -> None:
        self.filesystem  # noqa: B018 - read before anything of the image can run
        super()._ready_to_exec()  # the helper, copied in before start: the keepalive
        try:
            with engine_errors():
                self._container.start()
                self._container.reload()
        except APIError as error:
            raise TargetError(f"cannot start a container of {self.name}: {error.explanation}") from None
        if self._container.status != "running":
            raise TargetError(f"the container of {self.name} did not stay up "
                              f"(status {self._container.status})")

    def close(self) -> None:
        """Remove the container and the unpacked files, at the same time: the engine's
        removal is mostly waiting, the files' a walk here."""
        files: threading.Thread | None = None
        with contextlib.suppress(RuntimeError):  # no thread to be had: the files after, here
            thread = threading.Thread(target=super().close, name="fipscheck-remove-files")
            thread.start()
            files = thread
        try:
            with cleanup_shielded():
                remove_container(self._container)
        finally:
            if files is not None:
                files.join()
            else:
                super().close()
