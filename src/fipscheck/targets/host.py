"""A running system reached through one of testinfra's backends (``--host URL``):
``local://``, ``ssh://user@host``, ``docker://NAME``, ``podman://NAME``, ``kubectl://POD``.

Runtime checks run there, through the backend. fipscheck's own files (the native checker built
for the host's architecture, the Python probe) are used where the package has them on
``local://``; elsewhere they are copied into a private temporary directory through the
backend's ``run`` (printf chunks: every backend can run ``sh``, none other than docker and
podman can copy files) and that directory is removed at the end.

Static checks read files. ``local://`` is this machine's ``/``, walked without the kernel's
virtual filesystems, container storage and container root filesystems, other roots (chroots,
unpacked images) and, unless asked, other filesystems; ``docker://`` is the container's
filesystem as the engine exports it (the way ``--container`` reads it). The other backends
offer no way to list and read a whole filesystem, so the static checks say why not there.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

# testinfra has no type hints (no stubs, no py.typed)
import testinfra  # type: ignore[import-untyped]
import testinfra.host  # type: ignore[import-untyped]

from ..errors import NotApplicableError, TargetError
from ..fs import RootFilesystem, WalkScope
from .base import ExecResult, Target, TargetConfig

if TYPE_CHECKING:
    from .container import ContainerTarget

# Kernel interfaces, not files of the system: walking them reads nothing installed and
# could hang on special files.
VIRTUAL_FILESYSTEMS = ("/proc", "/sys", "/dev")
VIRTUAL_TYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs",
    "tracefs", "pstore", "bpf", "mqueue", "hugetlbfs", "configfs", "fusectl", "binfmt_misc",
    "autofs", "efivarfs", "nsfs", "rpc_pipefs", "selinuxfs"})
# Mounted root filesystems of containers (each is another system, never this host's).
CONTAINER_ROOT_TYPES = frozenset({"overlay", "aufs", "fuse-overlayfs", "shiftfs"})
# Where container engines keep images, layers and volumes (often on the root filesystem).
CONTAINER_STORAGE = (
    "/var/lib/docker", "/var/lib/docker-*", "/var/lib/containers", "/var/lib/containerd",
    "/var/lib/cri-o", "/var/lib/kubelet/pods", "/var/lib/lxc", "/var/lib/lxd", "/var/lib/incus",
    "/var/lib/machines", "/var/lib/rancher", "/run/containerd", "/run/containers",
    "/home/*/.local/share/containers", "/home/*/.local/share/docker",
    "/root/.local/share/containers", "/root/.local/share/docker")
MOUNTINFO = "/proc/self/mountinfo"
OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")

# Backends that reach a container: its kernel is the machine's that runs it.
CONTAINER_BACKENDS = frozenset({"docker", "podman", "kubectl", "openshift", "lxc"})

# Why a backend's files are not read, and what reads them instead.
OVER_SSH = ("over ssh fipscheck could only copy the whole remote root first; run it on that "
            "machine (`fipscheck scan --host local://`) to check its files")
IN_A_POD = ("{tool} copies paths only through a tar inside the pod and cannot export its "
            "filesystem; check the pod's image (`fipscheck scan IMAGE`) for its files")
NO_FILES = {
    "ssh": OVER_SSH,
    "paramiko": OVER_SSH,
    "podman": "fipscheck exports container filesystems through the Docker engine only; for "
              "podman, check a copy with --rootfs DIR (`podman export NAME | tar -x -C DIR`)",
    "kubectl": IN_A_POD.format(tool="kubectl"),
    "openshift": IN_A_POD.format(tool="oc"),
}

# Characters of printf escapes per command: the whole command is one `sh -c` argument, and
# Linux allows one argument 128 KiB.
UPLOAD_COMMAND_SIZE = 96 << 10


def _printf_escaped(byte: int) -> str:
    char = chr(byte)
    return char if 32 <= byte < 127 and char not in "\\'%" else f"\\{byte:03o}"


PRINTF_ESCAPES = tuple(_printf_escaped(b) for b in range(256))


def printf_chunks(data: bytes, size: int = UPLOAD_COMMAND_SIZE) -> Iterator[str]:
    """The bytes as printf format strings (octal escapes for all but plain characters) of at
    most ``size`` characters each: what `printf '...'` writes back exactly, in any sh."""
    piece: list[str] = []
    length = 0
    for byte in data:
        escaped = PRINTF_ESCAPES[byte]
        if length + len(escaped) > size:
            yield "".join(piece)
            piece, length = [], 0
        piece.append(escaped)
        length += len(escaped)
    if piece or not data:
        yield "".join(piece)


class HostTarget(Target):
    kind = "host"
    can_run = True
    runner_name = "the host"

    def __init__(self, url: str, all_filesystems: bool = False) -> None:
        super().__init__(url)
        self.all_filesystems = all_filesystems  # walk other filesystems of local:// too
        try:
            self._host = testinfra.get_host(url)
        except Exception as error:  # testinfra raises plain RuntimeError/ValueError for bad URLs
            raise TargetError(f"cannot reach host {url}: {error}") from None
        self.backend = self._host.backend.NAME
        self.own_kernel = self.backend not in CONTAINER_BACKENDS
        self._fs: RootFilesystem | None = None
        self._container: ContainerTarget | None = None  # docker://: its files come from here
        self._own_dir: str | None = None  # fipscheck's directory on a remote host
        self.installed: list[str] = []  # what install() copied there, for the description

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": self.kind, "name": self.name, "backend": self.backend}
        if self.installed:  # removed again when the target is closed
            described["installed"] = self.installed
        return described

    # -- files ----------------------------------------------------------------------------
    @property
    def filesystem(self) -> RootFilesystem:
        if self._fs is None:
            if self.backend == "local":
                self._fs = RootFilesystem("/", local_scope(self.all_filesystems))
            elif self.backend == "docker":
                self._fs = self._docker_container().filesystem
            else:
                why = NO_FILES.get(self.backend, f"the {self.backend} backend can run commands "
                                   "but cannot list and read a whole filesystem")
                raise NotApplicableError(f"the files of {self.name} are not read: {why}")
        return self._fs

    def _docker_container(self) -> ContainerTarget:
        """docker://NAME's container through the engine: its exported files and its config."""
        if self._container is None:
            from .container import ContainerTarget  # the Docker SDK only when needed

            self._container = ContainerTarget(self._host.backend.name)
        return self._container

    def install(self, name: str, source: Path, mode: int = 0o755) -> str:
        """This machine's copy on ``local://``; elsewhere copied into a private directory,
        removed by ``close``."""
        if self.backend == "local":
            return str(source)
        path = f"{self._own_directory()}/{name}"
        self._upload(path, source.read_bytes(), mode)
        self.installed.append(path)
        return path

    def _own_directory(self) -> str:
        if self._own_dir is None:
            made = self._run_ok('umask 077 && mktemp -d "${TMPDIR:-/tmp}/fipscheck.XXXXXXXX"').strip()
            if not made.startswith("/") or any(c in made for c in "\n'\\"):
                raise TargetError(f"mktemp on {self.name} gave an unusable directory: {made!r}")
            self._own_dir = made
        return self._own_dir

    def _upload(self, path: str, data: bytes, mode: int) -> None:
        quoted = shlex.quote(path)
        for number, chunk in enumerate(printf_chunks(data)):
            self._run_ok(f"printf '{chunk}' {'>>' if number else '>'} {quoted}")
        written = self._run_ok(f"chmod {mode:o} {quoted} && wc -c < {quoted}").strip()
        if written != str(len(data)):
            raise TargetError(f"copying {path} to {self.name}: {written or 'no'} bytes arrived "
                              f"of {len(data)}")

    def _run_ok(self, command: str) -> str:
        done = self.exec(["sh", "-c", command])
        if done.exit_code != 0:
            raise TargetError(f"`{command[:60]}` failed on {self.name} (exit {done.exit_code}): "
                              f"{done.stderr.decode('utf-8', errors='replace').strip()[-300:]}")
        return done.text

    def close(self) -> None:
        try:
            if self._own_dir is not None:
                self._run_ok(f"rm -rf -- {shlex.quote(self._own_dir)}")
                self._own_dir = None
        finally:
            if self._container is not None:
                self._container.close()
                self._container = None
            self._fs = None

    # -- running --------------------------------------------------------------------------
    def runs_on(self) -> str | None:
        if self.backend == "local":
            return os.uname().machine
        return self._run_ok("uname -m").strip() or None

    @cached_property
    def config(self) -> TargetConfig:
        """docker://: the container's configuration, as its processes got it; elsewhere the
        PATH a command run on the host gets (a host has no image configuration)."""
        if self.backend == "docker":
            return self._docker_container().config
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


def local_scope(all_filesystems: bool = False) -> WalkScope:
    """What a walk of this machine's ``/`` leaves out: the kernel's virtual filesystems,
    container root filesystems and storage, other roots, and (unless ``all_filesystems``)
    every filesystem other than the root's; from ``/proc/self/mountinfo``."""
    prune = dict.fromkeys(VIRTUAL_FILESYSTEMS, "a virtual filesystem of the kernel")
    names: dict[int, str] = {}
    for point, fstype, device in _mounts():
        names[device] = fstype
        if point == "/":
            continue
        if fstype in VIRTUAL_TYPES:
            prune[point] = f"a virtual filesystem ({fstype})"
        elif fstype in CONTAINER_ROOT_TYPES:
            prune[point] = f"a container's root filesystem ({fstype})"
    for pattern in CONTAINER_STORAGE:
        for path in glob.glob(pattern):
            if os.path.isdir(path) and not os.path.islink(path):
                prune[path] = "container storage"
    return WalkScope(prune, one_filesystem=not all_filesystems, nested_roots=True,
                     filesystem_names=names)


def _mounts() -> list[tuple[str, str, int]]:
    """(mount point, filesystem type, device) of this machine's mounts."""
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        major, _, minor = parts[2].partition(":")
        # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040)
        point = OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), parts[4])
        mounts.append((point, rest.split()[0], os.makedev(int(major), int(minor))))
    return mounts
