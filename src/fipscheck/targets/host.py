"""A running system reached through one of testinfra's backends (``--host URL``):
``local://``, ``ssh://user@host``, ``docker://NAME``, ``podman://NAME``, ``kubectl://POD``.

Runtime probes run on that system through testinfra. Static checks read a filesystem, and
fipscheck reads filesystems only on its own machine: ``local://`` is the root ``/`` (its
virtual filesystems pruned from walks); for every other backend the static checks are not
applicable and say so, naming the target that would check those files instead.
"""

from __future__ import annotations

import shlex
from functools import cached_property
from typing import Any

import testinfra
import testinfra.host

from ..errors import NotApplicableError, TargetError
from ..fs import RootFilesystem
from .base import ExecResult, Target, TargetConfig

# Kernel interfaces, not files of the system: walking them reads nothing installed and
# could hang on special files.
VIRTUAL_FILESYSTEMS = ("/proc", "/sys", "/dev")

# Backends that reach a container: its kernel is the machine's that runs it.
CONTAINER_BACKENDS = frozenset({"docker", "podman", "kubectl", "openshift", "lxc"})

INSTEAD = {"docker": "--container NAME (it exports the container's filesystem)",
           "podman": "--rootfs DIR on an exported copy (podman export NAME | tar -x -C DIR)"}


class HostTarget(Target):
    kind = "host"
    can_run = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            self._host = testinfra.get_host(url)
        except Exception as error:  # testinfra raises plain RuntimeError/ValueError for bad URLs
            raise TargetError(f"cannot reach host {url}: {error}") from None
        self.backend = self._host.backend.NAME
        self.own_kernel = self.backend not in CONTAINER_BACKENDS

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "backend": self.backend}

    @property
    def filesystem(self) -> RootFilesystem:
        if self.backend != "local":
            instead = INSTEAD.get(self.backend, "--image or --rootfs on what it runs")
            raise NotApplicableError(
                f"static checks read files on fipscheck's own machine; {self.name} is remote "
                f"({self.backend}), so its files are not read: check them with {instead}")
        return RootFilesystem("/", prune=VIRTUAL_FILESYSTEMS)

    @cached_property
    def config(self) -> TargetConfig:
        """The PATH a command run on the host gets (the host has no image configuration)."""
        done = self.exec(["sh", "-c", 'printf %s "$PATH"'])
        if done.exit_code != 0:
            raise TargetError(f"cannot read PATH on {self.name}: {done.stderr.decode(errors='replace')}")
        return TargetConfig(env={"PATH": done.text})

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        assignments = [f"{key}={value}" for key, value in (env or {}).items()]
        command = shlex.join(["env", *assignments, *argv] if assignments else argv)
        try:
            done = self._host.run(command)
        except Exception as error:  # a backend's own failure (ssh refused, no kubectl, ...)
            raise TargetError(f"cannot run {argv[0]} on {self.name}: {error}") from None
        return ExecResult(tuple(argv), done.rc, done.stdout_bytes, done.stderr_bytes)

    def testinfra_host(self) -> testinfra.host.Host:
        return self._host
