"""``libraries.banned``: no crypto library outside the FIPS module ships in the target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Finding
from ..probes.inventory import inventory
from ..probes.libraries import find_banned_libraries
from . import Outcome, check, errored, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("libraries.banned", "No shared library of GnuTLS, Nettle/Hogweed, libgcrypt, mbedTLS, "
       "libsodium or a libk5crypto with built-in crypto anywhere in the target, and no program "
       "or module with its own crypto (static OpenSSL/BoringSSL/AWS-LC, ring, aws-lc-rs, "
       "RustCrypto crates, pycryptodome, a second libcrypto)",
       affirmative=False)
def banned_libraries(ctx: ScanContext) -> Outcome:
    result = find_banned_libraries(ctx)
    families = sorted({b.family for b in ctx.policy.banned_libraries})
    walk = ctx.evidence(inventory).walk  # what was left out of the search, and why
    if result.found:
        paths = ", ".join(f.path for f in result.found)
        return failed(f"{len(result.found)} banned crypto libraries: {paths}",
                      findings=[Finding(f"{f.family}: {f.reason}", f.path) for f in result.found],
                      found=[f.to_dict() for f in result.found], **_ignored(ctx),
                      files_examined=result.files_examined, families=families, **walk)
    if result.unreadable or result.malformed:
        return errored(f"no banned library among the files read, but {len(result.unreadable)} "
                       f"paths could not be read and {len(result.malformed)} ELF files could "
                       "not be parsed", unreadable=result.unreadable[:50],
                       malformed=dict(list(result.malformed.items())[:50]),
                       files_examined=result.files_examined, **walk)
    if not result.objects_examined:  # a pass over no library and no program would prove nothing
        return not_applicable(f"no ELF object among the {result.files_examined} files: no library "
                              "or program to examine", files_examined=result.files_examined, **walk)
    left_out = f" ({len(walk['not_walked'])} directories not walked)" if "not_walked" in walk else ""
    return passed(f"no banned crypto library among {result.files_examined} files{left_out}",
                  files_examined=result.files_examined, families=families, **walk,
                  **_ignored(ctx))

def _ignored(ctx: ScanContext) -> dict[str, object]:
    """How many files the policy's ignore_paths left out, when it left out any."""
    ignored = ctx.evidence(inventory).ignored
    if not ignored:
        return {}
    return {"files_ignored_by_policy": ignored, "ignore_paths": list(ctx.policy.ignore_paths)}
