"""A container image, instantiated as a container of ours.

The container is created with the image's entrypoint bypassed, no network and our labels.
Its filesystem is read from ``docker export`` of the created container, before it is ever
started; it is started (with a command that only waits) the first time a runtime probe needs
to run something inside it. ``close`` removes both, whatever happened before.
"""

from __future__ import annotations

import uuid
from typing import Any

from docker.errors import APIError, ImageNotFound, NotFound

from ..errors import TargetError
from .base import TargetConfig
from .container import DockerContainerTarget
from .engine import docker_client, ownership_labels, reap_orphans

KEEPALIVE = ["sleep", "infinity"]
TARGET_LABEL = "org.fipscheck.target"


class ImageTarget(DockerContainerTarget):
    kind = "image"

    def __init__(self, image: str) -> None:
        client = docker_client()
        reap_orphans(client)
        try:
            self._image = client.images.get(image)
        except ImageNotFound:
            raise TargetError(f"no such image: {image}") from None
        except APIError as error:
            raise TargetError(f"cannot inspect image {image}: {error.explanation}") from None
        # A label of this target's own finds its container even when an interrupt (Ctrl-C,
        # SIGTERM) lands while the container is being created, before this object holds it.
        token = uuid.uuid4().hex
        try:
            container = client.containers.create(
                self._image.id, entrypoint=KEEPALIVE, command=[], network_mode="none",
                labels={**ownership_labels(), TARGET_LABEL: token}, detach=True)
            super().__init__(image, container)
            self._started = False
        except BaseException as error:
            for orphan in client.api.containers(all=True, filters={"label": f"{TARGET_LABEL}={token}"}):
                client.api.remove_container(orphan["Id"], force=True)
            if isinstance(error, APIError):
                raise TargetError(f"cannot create a container from {image}: "
                                  f"{error.explanation}") from None
            raise

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "image_id": self._image.id,
                "tags": list(self._image.tags)}

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
            self._container.remove(force=True)
        except NotFound:
            pass
        finally:
            super().close()
