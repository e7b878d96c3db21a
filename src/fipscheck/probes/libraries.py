"""Shared libraries of banned crypto families present in the target's filesystem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EvidenceError
from ..policy import BannedLibrary

if TYPE_CHECKING:
    from ..runner import ScanContext

ELF_MAGIC = b"\x7fELF"


@dataclass
class BannedLibraryFound:
    path: str
    family: str
    reason: str
    aliases: list[str] = field(default_factory=list)  # symlinks that lead to it

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "family": self.family, "reason": self.reason,
                "aliases": self.aliases}


@dataclass
class BannedLibraries:
    found: list[BannedLibraryFound]
    files_examined: int
    unreadable: list[str]


def _family(name: str, banned: tuple[BannedLibrary, ...]) -> BannedLibrary | None:
    return next((b for b in banned if b.file_name.match(name)), None)


def find_banned_libraries(ctx: ScanContext) -> BannedLibraries:
    fs = ctx.target.filesystem
    banned = ctx.policy.banned_libraries
    found: dict[str, BannedLibraryFound] = {}
    links: list[str] = []
    examined = 0
    for entry in fs.walk():
        if entry.is_file:
            examined += 1
            family = _family(entry.name, banned)
            if family and _is_elf(fs, entry.path):
                found[entry.path] = BannedLibraryFound(entry.path, family.family, family.reason)
        elif entry.is_symlink and _family(entry.name, banned):
            links.append(entry.path)
    for link in links:
        try:
            resolved = fs.resolve(link)
        except (EvidenceError, OSError):
            continue
        if resolved in found:
            found[resolved].aliases.append(link)
    return BannedLibraries(sorted(found.values(), key=lambda f: f.path), examined,
                           list(fs.unreadable))


def _is_elf(fs, path: str) -> bool:
    try:
        return fs.read_bytes(path, 4) == ELF_MAGIC
    except (OSError, EvidenceError):
        return False
