"""``linkage.libcrypto``: every program that uses libcrypto loads the one the FIPS provider
belongs to, alone, and nothing carries its own statically linked crypto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Finding
from ..probes.inventory import inventory
from ..probes.linkage import Closure, linkage
from . import Outcome, check, errored, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext

LISTED = 200  # programs listed in the evidence; counts are always complete


def _problem(closure: Closure, fips: set[str]) -> str | None:
    if closure.carried:
        return (f"statically linked {closure.carried.family}: {closure.carried.why}")
    paths = sorted({r.path for r in closure.libcrypto})
    if len(paths) > 1:
        return f"{len(paths)} different libcrypto copies in one process: {', '.join(paths)}"
    if not paths:
        names = sorted({n for n, _ in closure.missing if n.startswith("libcrypto")})
        return f"needs {', '.join(names)}, which the loader would not find"
    if paths[0] not in fips:
        return f"loads {paths[0]}, not the libcrypto of the FIPS provider"
    return None


def _row(closure: Closure, problem: str | None) -> dict[str, object]:
    row: dict[str, object] = {"program": closure.program}
    if closure.libcrypto:
        row["libcrypto"] = [{"path": r.path, "found_by": r.found_by, "needed_by": r.needed_by}
                            for r in closure.libcrypto]
    if closure.carried:
        row["carried"] = {"family": closure.carried.family, "banners": closure.carried.banners,
                          "symbols": closure.carried.symbols}
    if problem:
        row["problem"] = problem
    return row


@check("linkage.libcrypto", "Every program that uses libcrypto resolves, as ld.so would, to "
       "the libcrypto the FIPS provider belongs to; no statically linked crypto")
def libcrypto_linkage(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(linkage)
    fips = {c.path for c in found.copies if c.is_fips}
    judged = [(c, _problem(c, fips)) for c in found.closures]
    bad = [_row(c, p) for c, p in judged if p]
    evidence = {
        "fips_libcrypto": sorted(fips),
        "libcrypto_copies": [c.to_dict() for c in found.copies],
        "loader": found.loader_note,
        "programs": [_row(c, p) for c, p in judged][:LISTED],
        "programs_using_crypto": len(judged),
        "static_go_programs": found.left_to_go,  # go.fips-toolchain judges these
    }
    files = ctx.evidence(inventory)
    evidence["files_examined"] = files.files
    evidence.update(files.walk)  # what the walk left out, and why
    if files.ignored:
        evidence["files_ignored_by_policy"] = files.ignored
    if files.special:  # listed, never opened: a device or socket cannot be a program
        evidence["special_files"] = files.special[:50]
    if files.undecodable:
        evidence["non_utf8_names"] = files.undecodable[:50]
    if found.loader_problems:  # e.g. NUL bytes in ld.so.conf, read as ldconfig reads them
        evidence["loader_problems"] = found.loader_problems
    if found.unresolved:  # any library ld.so would not find; only libcrypto decides here
        evidence["unresolved"] = [{"object": o, "needs": n, "needed_by": b}
                                  for o, n, b in found.unresolved[:50]]
    if found.malformed:
        evidence["malformed"] = dict(list(found.malformed.items())[:50])
    if found.unreadable:
        evidence["unreadable"] = found.unreadable[:50]
    if bad:
        first = "; ".join(f"{r['program']}: {r['problem']}" for r in bad[:3])
        return failed(f"{len(bad)} of {len(judged)} crypto-using programs are not on the FIPS "
                      f"libcrypto: {first}", failures=bad[:LISTED], **evidence,
                      findings=[Finding(str(r["problem"]), str(r["program"])) for r in bad])
    if found.malformed or found.unreadable:
        return errored(f"{len(found.malformed)} ELF files could not be parsed and "
                       f"{len(found.unreadable)} paths could not be read, so their linkage is "
                       "unknown", **evidence)
    if not judged:
        return not_applicable("no program uses libcrypto or carries crypto", **evidence)
    return passed(f"all {len(judged)} crypto-using programs resolve to "
                  f"{', '.join(sorted(fips))}", **evidence)
