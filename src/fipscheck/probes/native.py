"""The native checker's report from inside the target: the standalone fips-startup-check built
for the target's architecture is copied into the target's container (or onto a remote host)
and run there (never on this machine, unless it is the target: ``local://``); its JSON report is
the evidence of the runtime OpenSSL and wolfSSL checks. Each check keeps the verdict the
checker gave under its own ID, so the preflight, ``fipscheck.native.report()`` and a scan
agree."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..checks import Outcome
from ..errors import EvidenceError, NotApplicableError
from ..model import Status
from ..native import executable_path, report
from ..targets.base import Target
from ..targets.process import ProcessTarget

# The file probes (inventory, linkage, platform, ELF reading) are imported by the functions
# that use them: fipscheck.status() gets its report in-process and needs none of them.
if TYPE_CHECKING:
    from pathlib import Path

    from ..runner import ScanContext

NAME = "fips-startup-check"
TARGET_PATH = f"{Target.OWN_DIR}/{NAME}"  # where Target.install puts it in a container


def native_report(ctx: ScanContext) -> dict[str, Any]:
    """The checker's report from inside the target; ``{"unavailable": reason, "static":
    evidence}`` without running anything when no libcrypto in the target could be loaded."""
    target = ctx.target
    if isinstance(target, ProcessTarget):  # fipscheck.status(): this process, in-process
        return report()
    try:
        loadable: dict[str, Any] | None = ctx.evidence(loadable_libcrypto)
    except NotApplicableError:  # a remote host: its files are not read here, its checker tells
        loadable = None
    if loadable is not None and not loadable["libcrypto"]:
        return {"unavailable": _nothing_to_load(loadable), "static": loadable}
    path, checker = install_checker(ctx)
    result = target.exec([path])
    try:
        document = json.loads(result.stdout)
    except ValueError:
        if loadable is not None and not _has_its_loader(target, checker):
            raise EvidenceError(f"the target has {', '.join(loadable['libcrypto'])} but not the "
                                "glibc loader the checker needs") from None
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise EvidenceError(f"{path} exited {result.exit_code} without a report: "
                            f"{stderr[-500:] or 'no output'}") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise EvidenceError(f"{path} printed a report of an unknown schema")
    return document


def loadable_libcrypto(ctx: ScanContext) -> dict[str, Any]:
    """From the files alone: the libcrypto shared objects of the target that one of its
    dynamic loaders (a program interpreter its ELF files name and it holds) of the same
    architecture could load, the libcrypto files found, and the loaders."""
    from ..elf import ET_DYN
    from .inventory import inventory
    from .linkage import is_libcrypto

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


def install_checker(ctx: ScanContext) -> tuple[str, Path]:
    """The standalone checker built for the machine the target runs on, made available in
    the target (Target.install): its path there, and the package's file."""
    from .platform import runtime_platform

    checker = executable_path(ctx.evidence(runtime_platform).runs_on)
    return ctx.target.install(NAME, checker), checker


def _has_its_loader(target: Target, checker: Path) -> bool:
    """Whether the target has the glibc loader the checker names (PT_INTERP): without it, it
    cannot start. Where the files cannot be read (a remote host), the checker's failure is
    not explained away: it is taken to have one."""
    from ..elf import ElfFile

    try:
        fs = target.filesystem
    except NotApplicableError:
        return True
    with checker.open("rb") as f:
        interpreter = ElfFile(f).interpreter
    return interpreter is not None and fs.exists(interpreter)



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
