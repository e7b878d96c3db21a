"""What every target offers: a filesystem to read, its configuration, and (when it can run
things) a way to run a command inside it. Checks ask for these, never for a backend."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotApplicableError, TargetError
from ..extras import needed
from ..fs import RootFilesystem

if TYPE_CHECKING:
    import testinfra.host  # type: ignore[import-untyped]  # testinfra has no type hints
    from typing_extensions import Self  # typing.Self from Python 3.11 on


@dataclass(frozen=True)
class ExecResult:
    """A command run inside a target: its argv, exit code and output."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class TargetConfig:
    """How the target's processes start: image configuration for images and containers."""

    env: dict[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""

    @classmethod
    def from_docker(cls, config: dict[str, Any] | None) -> TargetConfig:
        """From the ``Config`` object of a Docker image or container inspection, or the
        ``config`` object of an OCI image configuration (the same fields); values of the wrong
        type (the configuration may come from a hostile archive) are dropped."""
        config = config if isinstance(config, dict) else {}

        def strings(key: str) -> tuple[str, ...]:
            value = config.get(key)
            return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

        def string(key: str) -> str:
            value = config.get(key)
            return value if isinstance(value, str) else ""

        env = dict(item.split("=", 1) for item in strings("Env") if "=" in item)
        return cls(env=env, entrypoint=strings("Entrypoint"), cmd=strings("Cmd"), user=string("User"),
                   workdir=string("WorkingDir"))

    def to_dict(self) -> dict[str, Any]:
        """As the report's target records it."""
        return {"env": self.env, "entrypoint": list(self.entrypoint), "cmd": list(self.cmd),
                "user": self.user, "workdir": self.workdir}


class Target(abc.ABC):
    """Where evidence comes from: a filesystem to read, a configuration, and, when
    ``can_run``, commands run inside it. A context manager: ``close()`` on exit removes what
    it created (containers, temporary files)."""

    kind: str
    can_run = False  # runtime probes need to run a command inside the target
    own_kernel = False  # a host has its own kernel; a container shares its host's
    runner_name = "the machine"  # whose kernel runs the target's processes, for messages
    # A failure's evidence names the packages owning its files, from the target's package
    # database (runner._owners); a target can decline that reading (see ProcessTarget).
    names_owners = True
    OWN_DIR = "/.fipscheck"  # where install() puts fipscheck's files in a container

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - targets without resources need nothing here
        """Release whatever the target created (containers, temporary files)."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name}

    @property
    def cannot_run_reason(self) -> str:
        """Why runtime checks do not apply, when ``can_run`` is false."""
        return f"a {self.kind} target cannot"

    @property
    def config(self) -> TargetConfig:
        return TargetConfig()

    @property
    @abc.abstractmethod
    def filesystem(self) -> RootFilesystem: ...

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> ExecResult:
        raise TargetError(f"a {self.kind} target cannot run commands")

    def put_file(self, path: str, data: bytes, mode: int = 0o755) -> None:
        raise TargetError(f"a {self.kind} target cannot receive files")

    def install(self, name: str, source: Path, mode: int = 0o755) -> str:
        """Make fipscheck's own file ``source`` (on this machine) available inside the target
        under ``name`` and return the path to use there: copied to ``/.fipscheck/`` of a
        container; hosts override this (see targets/host.py)."""
        path = f"{self.OWN_DIR}/{name}"
        self.put_file(path, source.read_bytes(), mode)
        return path

    def runs_on(self) -> str | None:
        """The architecture (``uname -m``) of the kernel that runs the target's processes,
        so runtime checks can tell whether the target's programs can run there; None when
        not known."""
        return None

    def testinfra_host(self) -> testinfra.host.Host:
        """A testinfra Host whose commands run where this target's runtime probes run."""
        if not self.can_run:
            raise NotApplicableError(f"the target cannot run commands ({self.cannot_run_reason}), so "
                                     "it has no testinfra host")
        with needed("testinfra hosts (the fips_host fixture)"):
            from .infra import TargetBackend  # testinfra: imported only by those who ask for it

        return TargetBackend.host_for(self)

