"""Crypto in the target outside the FIPS module: shared libraries of banned families,
recognised by file name or by SONAME (so a renamed GnuTLS is still GnuTLS), and programs or
extension modules that carry their own crypto, recognised by what they contain (defined
symbols, version banners): statically linked OpenSSL, BoringSSL, AWS-LC, ring or aws-lc-rs,
libcrypto copies other than the FIPS provider's, pycryptodome's C modules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..elf import ET_DYN, ET_EXEC, ElfError
from ..errors import EvidenceError
from ..policy import DEFAULT_BANNED, BannedLibrary
from .gobuild import go_programs
from .inventory import ElfSummary, inventory, read_elf
from .linkage import is_libcrypto, libcrypto_copies
from .signatures import LIBCRYPTO_NAME, carried_crypto

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass
class BannedLibraryFound:
    path: str
    family: str
    reason: str
    soname: str | None
    aliases: list[str] = field(default_factory=list)  # symlinks that lead to it
    evidence: dict[str, object] = field(default_factory=dict)  # banners, symbols, versions

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "family": self.family, "reason": self.reason,
                "soname": self.soname, "aliases": self.aliases, **self.evidence}


@dataclass
class BannedLibraries:
    found: list[BannedLibraryFound]
    files_examined: int
    unreadable: list[str]
    malformed: dict[str, str] = field(default_factory=dict)


def _family(name: str | None, banned: tuple[BannedLibrary, ...]) -> BannedLibrary | None:
    return next((b for b in banned if name and b.file_name.match(name)), None)


# pycryptodome's C modules: one finding per installed package, its modules as evidence.
PYCRYPTODOME = re.compile(r"^(.*/(?:Crypto|Cryptodome))/(?:Cipher|Hash|PublicKey|Protocol)/_\w+\.[\w.-]*so$")


def _bundled(ctx: ScanContext, elf: ElfSummary, fips_tree: tuple[str, ...],
             malformed: dict[str, str]) -> BannedLibraryFound | None:
    soname = elf.dynamic.soname
    if (elf.type not in (ET_EXEC, ET_DYN) or elf.path.startswith(fips_tree)
            or elf.path in ctx.evidence(go_programs)):
        return None
    needs = any(LIBCRYPTO_NAME.match(n) for n in elf.dynamic.needed)
    try:
        carried = read_elf(ctx.target.filesystem, elf.path, lambda e: carried_crypto(e, needs))
    except (ElfError, OSError) as error:
        malformed[elf.path] = str(error)
        return None
    if carried is None:
        return None
    return BannedLibraryFound(elf.path, f"bundled {carried.family}", carried.why, soname,
                              evidence={"banners": list(carried.banners),
                                        "symbols": list(carried.symbols)})


def find_banned_libraries(ctx: ScanContext) -> BannedLibraries:
    fs = ctx.target.filesystem
    banned = ctx.policy.banned_libraries
    # Families the policy un-banned (a preset's validated modules: GnuTLS on RHEL) are not
    # judged by their content either: they carry their own crypto by design.
    allowed = tuple(b for b in DEFAULT_BANNED if b.family not in {x.family for x in banned})
    files = ctx.evidence(inventory)
    copies = {c.path: c for c in ctx.evidence(libcrypto_copies)}
    # A libcrypto's provider and engine directories are part of its build (the padlock
    # engine carries OpenSSL's assembly, as libcrypto does): a copy is judged as a whole,
    # by the finding about the copy itself. The FIPS libcrypto is the module's own.
    fips_tree = tuple(p for c in copies.values()
                      for p in ((c.path,) if c.is_fips else ()) + tuple(
                          d.rstrip("/") + "/" for d in (c.modules_dir, c.engines_dir) if d))
    found: dict[str, BannedLibraryFound] = {}
    malformed = dict(files.malformed)
    for elf in files.elf:
        soname = elf.dynamic.soname
        family = _family(soname, banned) or _family(elf.path.rsplit("/", 1)[-1], banned)
        copy = copies.get(elf.path) if is_libcrypto(elf) else None
        if family:
            found[elf.path] = BannedLibraryFound(elf.path, family.family, family.reason, soname)
        elif _family(soname, allowed) or _family(elf.path.rsplit("/", 1)[-1], allowed):
            continue
        elif copy is not None and not copy.is_fips:
            found[elf.path] = BannedLibraryFound(
                elf.path, "libcrypto copy", "a libcrypto other than the FIPS provider's: its "
                "programs do not use the FIPS module", soname, evidence=copy.to_dict())
        elif package := PYCRYPTODOME.match(elf.path):
            finding = found.setdefault(package.group(1), BannedLibraryFound(
                package.group(1), "pycryptodome", "pycryptodome implements its crypto in its "
                "own C modules, outside the FIPS module", None, evidence={"modules": []}))
            finding.evidence["modules"].append(elf.path)  # type: ignore[union-attr]
        elif copy is None and (bundled := _bundled(ctx, elf, fips_tree, malformed)):
            found[elf.path] = bundled
    # Aliases share the library's stem (libgnutls.so.30 -> libgnutls.so.30.40.3): only those
    # links are resolved, not every link of the image.
    stems = {f.path.rsplit("/", 1)[-1].split(".so")[0] for f in found.values()}
    for link in files.symlinks:
        if link.rsplit("/", 1)[-1].split(".so")[0] not in stems:
            continue
        try:
            resolved = fs.resolve(link)
        except (EvidenceError, OSError):
            continue
        if resolved in found:
            found[resolved].aliases.append(link)
    return BannedLibraries(sorted(found.values(), key=lambda f: f.path), files.files,
                           files.unreadable, malformed)
