"""Shared libraries of banned crypto families present in the target's filesystem, recognised
by file name or by SONAME (so a renamed GnuTLS is still GnuTLS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EvidenceError
from ..policy import BannedLibrary
from .inventory import inventory

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass
class BannedLibraryFound:
    path: str
    family: str
    reason: str
    soname: str | None
    aliases: list[str] = field(default_factory=list)  # symlinks that lead to it

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "family": self.family, "reason": self.reason,
                "soname": self.soname, "aliases": self.aliases}


@dataclass
class BannedLibraries:
    found: list[BannedLibraryFound]
    files_examined: int
    unreadable: list[str]


def _family(name: str | None, banned: tuple[BannedLibrary, ...]) -> BannedLibrary | None:
    return next((b for b in banned if name and b.file_name.match(name)), None)


def find_banned_libraries(ctx: ScanContext) -> BannedLibraries:
    fs = ctx.target.filesystem
    banned = ctx.policy.banned_libraries
    files = ctx.evidence(inventory)
    found: dict[str, BannedLibraryFound] = {}
    for elf in files.elf:
        soname = elf.dynamic.soname
        family = _family(soname, banned) or _family(elf.path.rsplit("/", 1)[-1], banned)
        if family:
            found[elf.path] = BannedLibraryFound(elf.path, family.family, family.reason, soname)
    for link in files.symlinks:
        try:
            resolved = fs.resolve(link)
        except (EvidenceError, OSError):
            continue
        if resolved in found:
            found[resolved].aliases.append(link)
    return BannedLibraries(sorted(found.values(), key=lambda f: f.path), files.files,
                           files.unreadable)
