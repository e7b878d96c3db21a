"""A root filesystem in a directory (``dir:DIR``, ``--rootfs DIR``): static checks only, with
the configuration ``--config FILE`` and ``--env KEY=VALUE`` give it (a directory has none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EvidenceError, TargetError
from ..fs import RootFilesystem
from .base import Target, TargetConfig


class RootfsTarget(Target):
    kind = "rootfs"

    def __init__(self, directory: str | Path, config: TargetConfig | None = None) -> None:
        super().__init__(str(directory))
        self._config = config or TargetConfig()
        try:
            self._fs = RootFilesystem(directory)
        except EvidenceError as error:
            raise TargetError(str(error)) from None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "source": "dir", "path": str(Path(self.name).resolve()),
                "config": self._config.to_dict()}

    @property
    def config(self) -> TargetConfig:
        return self._config

    @property
    def filesystem(self) -> RootFilesystem:
        return self._fs
