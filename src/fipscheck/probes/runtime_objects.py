"""ELF objects of a runtime (NSS's softoken, Node.js, the JVM), found by what they are: a
SONAME or file name of that runtime, confirmed by a function only that runtime defines. A
name alone is not enough (glibc's ``libnss_files.so.2`` is no NSS), and reading the symbols
of every object would cost a pass over the whole image: names pick the candidates."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..elf import ElfError
from ..errors import EvidenceError
from .inventory import ElfSummary, inventory, read_elf

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass
class RuntimeObjects:
    found: list[ElfSummary] = field(default_factory=list)
    impostors: list[str] = field(default_factory=list)  # named like it, without its function
    malformed: dict[str, str] = field(default_factory=dict)


def objects_defining(ctx: ScanContext, name: re.Pattern[str], symbol: str) -> RuntimeObjects:
    """The ELF objects whose SONAME or file name matches ``name`` and that define ``symbol``."""
    result = RuntimeObjects()
    for elf in ctx.evidence(inventory).elf:
        if not (name.match(elf.dynamic.soname or "") or name.match(posixpath.basename(elf.path))):
            continue
        try:
            defined = read_elf(ctx.target.filesystem, elf.path,
                               lambda e: symbol in set(e.symbol_names(defined_only=True)))
        except (ElfError, OSError, EvidenceError) as error:
            result.malformed[elf.path] = str(error)
            continue
        if defined:
            result.found.append(elf)
        else:
            result.impostors.append(elf.path)
    return result
