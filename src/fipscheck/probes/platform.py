"""Which architecture the target's programs are built for, and whether the machine that would
run them can: the runtime checks run programs inside the target (fipscheck's checker, the
target's own interpreters), which needs a kernel of the same architecture. An arm64 image in an
x86-64 engine gets every static check and none of the runtime ones, with this as the reason.

The architecture is read from ELF headers in the root, never from what the target declares
(an image's config can say ``amd64`` over arm64 files): the dynamic loaders at the places
glibc and musl install them, else, for a root of static programs, the programs themselves.
Emulation (qemu registered with binfmt_misc) is not relied on: results would come from an
emulator, and whether one is registered on an engine's machine cannot be read from here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..elf import ET_DYN, ET_EXEC, ElfError, ElfFile
from ..errors import EvidenceError, NotApplicableError
from ..machines import canonical, machine_name

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

LOADER_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
# ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-linux.so.2, ld64.so.2, ld-musl-x86_64.so.1
LOADER_NAME = re.compile(r"^ld(?:-linux[-\w]*|64|-musl-\w+)?\.so\.\d+$")


@dataclass(frozen=True)
class Platform:
    machines: tuple[str, ...]  # the target's architectures, most common first (empty: no ELF)
    read_from: tuple[str, ...]  # the files they were read from (loaders), or "ELF programs"
    runs_on: str | None  # the architecture of the kernel that would run it (None: not known)
    runner: str  # who that is, for messages: "the Docker engine", "the host"

    def to_dict(self) -> dict[str, object]:
        return {"machines": list(self.machines), "read_from": list(self.read_from),
                "runs_on": self.runs_on}

    def require_runnable(self) -> None:
        """Raise NotApplicableError when the target's programs cannot run where it runs."""
        if self.runs_on is None or not self.machines or self.runs_on in self.machines:
            return
        where = ", ".join(self.read_from[:3])
        raise NotApplicableError(
            f"the target's programs are built for {'/'.join(self.machines)} (read from {where}) "
            f"and {self.runner} runs {self.runs_on}: the target's runtime is not checked "
            "(fipscheck runs programs only on their own architecture, without emulation)")


def target_machines(fs: RootFilesystem) -> tuple[Counter[str], list[str]]:
    """Architectures of the root's dynamic loaders, by their ELF headers, and their paths."""
    found: Counter[str] = Counter()
    paths = []
    for directory in LOADER_DIRS:
        try:
            names = sorted(n for n in fs.listdir(directory) if LOADER_NAME.match(n))
        except (OSError, EvidenceError):
            continue
        for name in names:
            path = f"{directory}/{name}"
            try:
                resolved = fs.resolve(path)
                if resolved in paths or not fs.is_file(resolved):
                    continue
                with fs.open(resolved) as f:
                    found[machine_name(ElfFile(f).machine)] += 1
            except (OSError, ElfError, EvidenceError):
                continue  # not a loader we can read: the programs still tell
            paths.append(resolved)
    return found, paths


def runtime_platform(ctx: ScanContext) -> Platform:
    runs_on = ctx.target.runs_on()
    if runs_on is None:  # not known (this process): nothing to compare, the runtime is tried
        return Platform((), (), None, ctx.target.runner_name)
    machine = canonical(runs_on)
    try:
        fs = ctx.target.filesystem
    except NotApplicableError:  # a remote host's files: its own kernel runs its programs
        return Platform((), (), machine, ctx.target.runner_name)
    found, read_from = target_machines(fs)
    if not found:  # no loader: a root of static programs (a Go binary FROM scratch)
        from .inventory import inventory  # here: this process (status()) needs no walk

        programs = [e for e in ctx.evidence(inventory).elf if e.type in (ET_EXEC, ET_DYN)]
        found = Counter(machine_name(e.machine) for e in programs)
        read_from = [f"{len(programs)} ELF programs"] if programs else []
    machines = tuple(name for name, _ in found.most_common())
    return Platform(machines, tuple(read_from), machine, ctx.target.runner_name)
