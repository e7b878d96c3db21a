"""What the OpenSSL backend of a Go program (golang-fips/go, Microsoft's Go) would load at run
time, read without running anything: the libcrypto its ``dlopen("libcrypto.so.N")`` finds,
searched the way ld.so searches for a dlopen from the program (its DT_RPATH, LD_LIBRARY_PATH,
its DT_RUNPATH, the cache, the default directories), and whether the FIPS provider of that
libcrypto's own build sits beside it (probes.linkage's pairing).

golang-fips's backend (src/crypto/internal/backend/openssl.go) tries the sonames below in
order and takes the first whose OpenSSL is in FIPS mode, else the first that loads; statically
that is the first with its FIPS provider beside it, else the first found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .linkage import LibcryptoCopy, libcrypto_copies, library_resolver

if TYPE_CHECKING:
    from ..runner import ScanContext

# golang-fips/go's knownVersions, as libcrypto.so.<version>; Microsoft's backend tries a subset.
SONAME_VERSIONS = ("3", "1.1", "11", "111", "1.0.2", "1.0.0", "10")


@dataclass(frozen=True)
class DlopenedLibcrypto:
    soname: str  # what dlopen is asked for
    found_by: str  # the search step that found it
    copy: LibcryptoCopy  # the file, its version and the FIPS provider paired with it

    def to_dict(self) -> dict[str, Any]:
        return {"dlopen": self.soname, "path": self.copy.path, "found_by": self.found_by,
                "version": self.copy.version, "fips_module": self.copy.fips_module,
                "fips_module_version": self.copy.fips_module_version}


def dlopened_libcrypto(ctx: ScanContext, program: str) -> DlopenedLibcrypto | None:
    """The libcrypto the OpenSSL backend of ``program`` would dlopen, or None when no soname
    it tries resolves (the backend then cannot start)."""
    resolver = ctx.evidence(library_resolver)
    elf = resolver.by_path.get(program)
    if elf is None:
        return None
    copies = {c.path: c for c in ctx.evidence(libcrypto_copies)}
    found = []
    for version in SONAME_VERSIONS:
        hit = resolver.search(f"libcrypto.so.{version}", elf, [elf], elf)
        if hit is not None and hit[0].path in copies:
            found.append(DlopenedLibcrypto(f"libcrypto.so.{version}", hit[1], copies[hit[0].path]))
    return next((d for d in found if d.copy.is_fips), found[0] if found else None)
