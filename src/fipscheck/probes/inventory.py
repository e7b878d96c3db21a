"""One walk over the target's filesystem: every regular file counted, every ELF file
summarised (header, program interpreter, dynamic section, section names). Probes that need
to know about binaries start from this inventory instead of walking again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..elf import MAGIC, DynamicInfo, ElfError, ElfFile
from ..errors import EvidenceError

if TYPE_CHECKING:
    from ..runner import ScanContext


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


def inventory(ctx: ScanContext) -> Inventory:
    fs = ctx.target.filesystem
    found = Inventory()
    for entry in fs.walk():
        if entry.is_symlink:
            found.symlinks.append(entry.path)
            continue
        if not entry.is_file:
            continue
        found.files += 1
        try:
            with fs.open(entry.path) as f:
                if f.read(4) != MAGIC:
                    continue
                elf = ElfFile(f)
                found.elf.append(ElfSummary(
                    entry.path, elf.bits, elf.machine, elf.type, elf.interpreter, elf.dynamic(),
                    elf.is_dynamic, frozenset(s.name for s in elf.sections)))
        except ElfError as error:
            found.malformed[entry.path] = str(error)
        except (OSError, EvidenceError) as error:
            found.unreadable.append(f"{entry.path}: {error}")
    found.unreadable[:0] = fs.unreadable
    return found
