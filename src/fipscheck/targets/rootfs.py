"""A root filesystem in a directory (``--rootfs DIR``): static checks only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EvidenceError, TargetError
from ..fs import RootFilesystem
from .base import Target


class RootfsTarget(Target):
    kind = "rootfs"

    def __init__(self, directory: str | Path) -> None:
        super().__init__(str(directory))
        try:
            self._fs = RootFilesystem(directory)
        except EvidenceError as error:
            raise TargetError(str(error)) from None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "path": str(Path(self.name).resolve())}

    @property
    def filesystem(self) -> RootFilesystem:
        return self._fs
