"""The native checker's report from inside the target: the standalone fips-startup-check is
copied into the target's container and run there (never on the host), and its JSON report is
the evidence of the runtime OpenSSL and wolfSSL checks. Each check keeps the verdict the
checker gave under its own ID, so the preflight, ``fipscheck.native.report()`` and a scan
agree."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..checks import Outcome
from ..elf import ET_DYN
from ..errors import EvidenceError
from ..model import Status
from ..native import executable_path, report
from ..targets.process import ProcessTarget
from .inventory import inventory
from .linkage import is_libcrypto

if TYPE_CHECKING:
    from ..runner import ScanContext

TARGET_PATH = "/.fipscheck/fips-startup-check"
# The checker is a glibc program: without one of these loaders it cannot start.
GLIBC_LOADERS = ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")


def native_report(ctx: ScanContext) -> dict[str, Any]:
    """The checker's report from inside the target; ``{"unavailable": reason, "static":
    evidence}`` without running anything when no libcrypto in the target could be loaded."""
    target = ctx.target
    if isinstance(target, ProcessTarget):  # fipscheck.status(): this process, in-process
        return report()
    loadable = ctx.evidence(loadable_libcrypto)
    if not loadable["libcrypto"]:
        return {"unavailable": _nothing_to_load(loadable), "static": loadable}
    target.put_file(TARGET_PATH, executable_path().read_bytes())
    result = target.exec([TARGET_PATH])
    try:
        document = json.loads(result.stdout)
    except ValueError:
        if not any(target.filesystem.exists(loader) for loader in GLIBC_LOADERS):
            raise EvidenceError(f"the target has {', '.join(loadable['libcrypto'])} but no glibc "
                                "loader to run the checker with") from None
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise EvidenceError(f"{TARGET_PATH} exited {result.exit_code} without a report: "
                            f"{stderr[-500:] or 'no output'}") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise EvidenceError(f"{TARGET_PATH} printed a report of an unknown schema")
    return document


def loadable_libcrypto(ctx: ScanContext) -> dict[str, Any]:
    """From the files alone: the libcrypto shared objects of the target that one of its
    dynamic loaders (a program interpreter its ELF files name and it holds) of the same
    architecture could load, the libcrypto files found, and the loaders."""
    found = ctx.evidence(inventory)
    fs = ctx.target.filesystem
    by_path = {elf.path: elf for elf in found.elf}
    loaders: dict[str, tuple[int, int]] = {}
    for interpreter in {elf.interpreter for elf in found.elf if elf.interpreter}:
        try:
            loader = by_path.get(fs.resolve(interpreter))
        except EvidenceError:
            continue  # a looping link loads nothing
        if loader is not None:
            loaders[interpreter] = loader.arch
    libcrypto = [elf for elf in found.elf if is_libcrypto(elf) and elf.type == ET_DYN]
    return {"libcrypto": [elf.path for elf in libcrypto if elf.arch in loaders.values()],
            "libcrypto_files": [elf.path for elf in libcrypto], "loaders": sorted(loaders),
            "elf_objects": len(found.elf)}


def _nothing_to_load(static: dict[str, Any]) -> str:
    if not static["libcrypto_files"]:
        return (f"no libcrypto in the target (none among its {static['elf_objects']} ELF "
                "objects): nothing of OpenSSL runs there")
    loaders = ", ".join(static["loaders"]) or "none"
    return (f"no dynamic loader in the target could load its libcrypto "
            f"({', '.join(static['libcrypto_files'])}; loaders: {loaders})")


_OUTCOMES = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR, "skip": Status.SKIP}


def native_outcome(ctx: ScanContext, check_id: str,
                   evidence: Callable[[dict[str, Any]], dict[str, Any]]) -> Outcome:
    """The checker's verdict on check_id, with the library it used and the report sections that
    evidence picks from the report."""
    document = ctx.evidence(native_report)
    if "unavailable" in document:
        return Outcome(Status.SKIP, document["unavailable"], {"static": document["static"]})
    verdict = next((c for c in document.get("checks", []) if c.get("id") == check_id), None)
    if verdict is None or verdict.get("status") not in _OUTCOMES:
        raise EvidenceError(f"the native checker's report has no verdict on {check_id}")
    library = document["libcrypto"]
    return Outcome(_OUTCOMES[verdict["status"]], verdict["message"],
                   {"libcrypto": {k: library[k] for k in ("path", "version", "family")},
                    "checker": document["tool"], **evidence(document)})
