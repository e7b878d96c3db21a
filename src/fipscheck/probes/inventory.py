"""One walk over the target's filesystem: every regular file counted, every ELF file
summarised (header, program interpreter, dynamic section, section names). Probes that need
to know about binaries start from this inventory instead of walking again."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..elf import MAGIC, DynamicInfo, ElfError, ElfFile
from ..errors import EvidenceError

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

T = TypeVar("T")


@dataclass(frozen=True)
class ElfSummary:
    path: str
    bits: int
    machine: int
    type: int
    interpreter: str | None
    dynamic: DynamicInfo
    is_dynamic: bool
    section_names: frozenset[str]

    @property
    def arch(self) -> tuple[int, int]:
        """What must match for the loader to accept one object into another's process."""
        return self.bits, self.machine


@dataclass
class Inventory:
    files: int = 0
    elf: list[ElfSummary] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)  # path -> why it could not be read
    symlinks: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # devices, FIFOs, sockets: never opened
    undecodable: list[str] = field(default_factory=list)  # names that are not UTF-8
    ignored: int = 0  # files the policy's ignore_paths leave out


def inventory(ctx: ScanContext) -> Inventory:
    fs = ctx.target.filesystem
    found = Inventory()
    policy = ctx.policy
    for entry in fs.walk():
        if policy.ignore_paths and policy.ignored(entry.path):
            found.ignored += not entry.is_dir
            continue
        if not entry.path.isprintable() and _undecodable(entry.path):
            found.undecodable.append(entry.path.encode("utf-8", "surrogateescape").decode(
                "utf-8", "backslashreplace"))
        if entry.is_symlink:
            found.symlinks.append(entry.path)
            continue
        if not entry.is_file:
            if not entry.is_dir:
                found.special.append(entry.path)
            continue
        found.files += 1
        try:
            fd = fs.open_entry(entry)
            try:
                if os.read(fd, 4) != MAGIC:
                    continue
                elf = ElfFile(fd)
                found.elf.append(ElfSummary(
                    entry.path, elf.bits, elf.machine, elf.type, elf.interpreter, elf.dynamic(),
                    elf.is_dynamic, frozenset(s.name for s in elf.sections)))
            finally:
                os.close(fd)
        except ElfError as error:
            found.malformed[entry.path] = str(error)
        except (OSError, EvidenceError) as error:
            found.unreadable.append(f"{entry.path}: {error}")
    found.unreadable[:0] = fs.unreadable
    return found


def _undecodable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode kept the bytes as lone surrogates
        return True
    return False


def read_elf(fs: RootFilesystem, path: str, read: Callable[[ElfFile], T]) -> T:
    """Open one ELF file of the root again, for a probe that needs more than the summary."""
    with fs.open(path) as f:
        return read(ElfFile(f))
