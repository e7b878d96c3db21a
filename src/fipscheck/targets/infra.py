"""testinfra on fipscheck's targets, for users' own tests (the ``fips_host`` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# testinfra has no type hints (no stubs, no py.typed): its classes are Any to mypy
import testinfra.backend.base  # type: ignore[import-untyped]
import testinfra.host  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from .base import Target


class TargetBackend(testinfra.backend.base.BaseBackend):  # type: ignore[misc]  # an untyped base
    """A testinfra backend running commands through ``Target.exec``: for the containers of
    image and container targets that is the Docker SDK, the same path the probes take, so
    no ``docker`` CLI is needed and DOCKER_HOST is honoured alike."""

    NAME = "docker"  # testinfra's modules treat it as a container (no systemd, no sudo)

    def __init__(self, target: Target) -> None:
        super().__init__(target.name)
        self.target = target

    @classmethod
    def host_for(cls, target: Target) -> testinfra.host.Host:
        backend = cls(target)
        host = testinfra.host.Host(backend)
        backend.set_host(host)
        return host

    def run(self, command: str, *args: str, **kwargs: Any) -> testinfra.backend.base.CommandResult:
        cmd = self.get_command(command, *args)
        done = self.target.exec(["/bin/sh", "-c", cmd])
        return self.result(done.exit_code, self.encode(cmd), done.stdout, done.stderr)
