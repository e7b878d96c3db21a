"""The current Python process (``fipscheck.status()``): its runtime probes gather in-process,
so what they see is the libcrypto this very interpreter loaded."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..fs import RootFilesystem
from .base import Target


class ProcessTarget(Target):
    kind = "process"
    can_run = True  # runtime facts are gathered in this process, not through exec
    # status()/require() answer at an application's start-up: reading the host's whole dpkg
    # database (hundreds of files, about 0.4 s) for a note on who owns the interpreter is not
    # worth that; the note decides nothing.
    names_owners = False

    def __init__(self) -> None:
        super().__init__(f"pid {os.getpid()}")
        self.executable = sys.executable

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "executable": self.executable,
                "python": sys.version.split()[0]}

    @property
    def filesystem(self) -> RootFilesystem:
        return RootFilesystem("/")
