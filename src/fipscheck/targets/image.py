"""A container image, instantiated as a container of ours.

The container is created with the image's entrypoint bypassed, no network and our labels.
Its filesystem is read from ``docker export`` of the created container, before it is ever
started; it is started (with a command that only waits) the first time a runtime probe needs
to run something inside it. ``close`` removes both, whatever happened before.
"""

from __future__ import annotations

from typing import Any

from docker.errors import APIError

from ..errors import TargetError
from ..interrupts import signals_deferred
from .base import TargetConfig
from .container import DockerContainerTarget
from .engine import (
    create_owned_container,
    docker_client,
    reap_orphans,
    remove_container,
)
from .oci import Platform
from .pull import describe_engine_image, engine_image, platform_of, platform_problem

KEEPALIVE = ["sleep", "infinity"]


class ImageTarget(DockerContainerTarget):
    kind = "image"

    def __init__(self, image: str, pull: str = "missing", platform: Platform | None = None) -> None:
        client = docker_client()
        reap_orphans(client)
        self._image = engine_image(client, image, pull, platform)
        self._platform_problem = platform_problem(client, platform_of(self._image.attrs))
        container = None
        try:
            # Interrupts (Ctrl-C, SIGTERM) are held until this object holds the container, so
            # none can fall between the engine making it and us knowing it.
            with signals_deferred():
                container = create_owned_container(
                    client, self._image.id, entrypoint=KEEPALIVE, command=[],
                    network_mode="none", detach=True)
                super().__init__(image, container)
            self._started = False
        except APIError as error:
            raise TargetError(f"cannot create a container from {image}: {error.explanation}") from None
        except BaseException:
            if container is not None:  # interrupted right after creation
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

    def _ready_to_exec(self) -> None:
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

    def close(self) -> None:
        try:
            remove_container(self._container)
        finally:
            super().close()
