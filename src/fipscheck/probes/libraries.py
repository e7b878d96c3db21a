"""Crypto in the target outside the FIPS module: shared libraries of banned families,
recognised by file name or by SONAME (so a renamed GnuTLS is still GnuTLS), and programs or
extension modules that carry their own crypto, recognised by what they contain (defined
symbols, version banners): statically linked OpenSSL, BoringSSL, AWS-LC, ring or aws-lc-rs,
libcrypto copies other than the FIPS provider's, pycryptodome's C modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from ..elf import ET_DYN, ET_EXEC, ElfError
from ..errors import EvidenceError
from ..policy import DEFAULT_BANNED, BannedLibrary
from .gobuild import go_programs
from .inventory import ElfSummary, carried_by, inventory
from .linkage import is_libcrypto, libcrypto_copies
from .signatures import LIBCRYPTO_NAME, OWN_CRYPTO_UNLESS_LIBCRYPTO

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
    objects_examined: int = 0  # ELF objects among the files


def family_of(banned: tuple[BannedLibrary, ...]) -> Callable[[str | None], BannedLibrary | None]:
    """A function giving the first banned family whose file-name pattern matches a name.
    The families' patterns are joined into one alternation when they can be (one match per
    name, not one per family: every ELF object's name and SONAME are matched), each in a
    group whose number tells the family (an outer group closes last: ``lastindex``); not
    when flags differ or a group reference would be broken by the renumbering."""
    patterns = [b.file_name for b in banned]
    if not patterns or len({p.flags for p in patterns}) != 1 or any(
            p.groupindex or re.search(r"\\\d|\(\?P=|\(\?\(", p.pattern) for p in patterns):
        return lambda name: next((b for b in banned if name and b.file_name.match(name)), None)
    groups, number = {}, 1
    for family in banned:
        groups[number] = family
        number += 1 + family.file_name.groups
    joined = re.compile("|".join(f"({p.pattern})" for p in patterns), patterns[0].flags)

    def first(name: str | None) -> BannedLibrary | None:
        match = joined.match(name) if name else None
        # every alternative of joined is a group, so a match has a lastindex
        return groups[cast(int, match.lastindex)] if match else None
    return first


# pycryptodome's C modules: one finding per installed package, its modules as evidence.
PYCRYPTODOME = re.compile(r"^(.*/(?:Crypto|Cryptodome))/(?:Cipher|Hash|PublicKey|Protocol)/_\w+\.[\w.-]*so$")


def _bundled(ctx: ScanContext, elf: ElfSummary, fips_tree: tuple[str, ...],
             malformed: dict[str, str]) -> BannedLibraryFound | None:
    soname = elf.dynamic.soname
    if (elf.type not in (ET_EXEC, ET_DYN) or elf.path.startswith(fips_tree)
            or elf.path in ctx.evidence(go_programs)):
        return None
    try:
        carried = carried_by(ctx.target.filesystem, elf, elf.needs_libcrypto)
    except (ElfError, OSError) as error:
        malformed[elf.path] = str(error)
        return None
    if carried is None:
        return None
    evidence: dict[str, object] = {"banners": list(carried.banners), "symbols": list(carried.symbols)}
    if carried.crates:
        evidence["crates"] = list(carried.crates)
    return BannedLibraryFound(elf.path, f"bundled {carried.family}", carried.why, soname,
                              evidence=evidence)


def _own_crypto(elf: ElfSummary) -> BannedLibraryFound | None:
    """A library that is a crypto library of its own because it was built without libcrypto
    (MIT Kerberos's libk5crypto with its built-in crypto)."""
    name = elf.dynamic.soname or elf.path.rsplit("/", 1)[-1]
    for pattern, family, reason in OWN_CRYPTO_UNLESS_LIBCRYPTO:
        if pattern.match(name) and not any(LIBCRYPTO_NAME.match(n) for n in elf.dynamic.needed):
            return BannedLibraryFound(elf.path, family, reason, elf.dynamic.soname,
                                      evidence={"needed": list(elf.dynamic.needed)})
    return None


def find_banned_libraries(ctx: ScanContext) -> BannedLibraries:
    fs = ctx.target.filesystem
    family_of_name = family_of(ctx.policy.banned_libraries)
    # Families the policy un-banned (a preset's validated modules: GnuTLS on RHEL) are not
    # judged by their content either: they carry their own crypto by design.
    banned_families = {b.family for b in ctx.policy.banned_libraries}
    allowed = tuple(b for b in DEFAULT_BANNED if b.family not in banned_families)
    family_of_allowed = family_of(allowed)
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
        family = family_of_name(soname) or family_of_name(elf.path.rsplit("/", 1)[-1])
        copy = copies.get(elf.path) if is_libcrypto(elf) else None
        if family:
            found[elf.path] = BannedLibraryFound(elf.path, family.family, family.reason, soname)
        elif family_of_allowed(soname) or family_of_allowed(elf.path.rsplit("/", 1)[-1]):
            continue
        elif own := _own_crypto(elf):
            found[elf.path] = own
        elif copy is not None and not copy.is_fips:
            found[elf.path] = BannedLibraryFound(
                elf.path, "libcrypto copy", "a libcrypto other than the FIPS provider's: its "
                "programs do not use the FIPS module", soname, evidence=copy.to_dict())
        elif package := PYCRYPTODOME.match(elf.path):
            finding = found.setdefault(package.group(1), BannedLibraryFound(
                package.group(1), "pycryptodome", "pycryptodome implements its crypto in its "
                "own C modules, outside the FIPS module", None, evidence={"modules": []}))
            cast("list[str]", finding.evidence["modules"]).append(elf.path)
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
                           files.unreadable, malformed, len(files.elf))
