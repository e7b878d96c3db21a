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
from ..elf import ElfFile
from ..errors import EvidenceError, NotApplicableError
from ..model import Status
from ..native import executable_path, report
from ..targets.base import Target
from ..targets.process import ProcessTarget
from .platform import runtime_platform

if TYPE_CHECKING:
    from pathlib import Path

    from ..runner import ScanContext

NAME = "fips-startup-check"
TARGET_PATH = f"{Target.OWN_DIR}/{NAME}"  # where Target.install puts it in a container


def native_report(ctx: ScanContext) -> dict[str, Any]:
    """The checker's report from inside the target; ``{"unavailable": reason}`` when it could
    not run because the target has no glibc loader, and there is no libcrypto to check either."""
    target = ctx.target
    if isinstance(target, ProcessTarget):  # fipscheck.status(): this process, in-process
        return report()
    path, checker = install_checker(ctx)
    result = target.exec([path])
    try:
        document = json.loads(result.stdout)
    except ValueError:
        if not _has_its_loader(target, checker):
            return _without_glibc(ctx)
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise EvidenceError(f"{path} exited {result.exit_code} without a report: "
                            f"{stderr[-500:] or 'no output'}") from None
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise EvidenceError(f"{path} printed a report of an unknown schema")
    return document


def install_checker(ctx: ScanContext) -> tuple[str, Path]:
    """The standalone checker built for the machine the target runs on, made available in
    the target (Target.install): its path there, and the package's file."""
    checker = executable_path(ctx.evidence(runtime_platform).runs_on)
    return ctx.target.install(NAME, checker), checker


def _has_its_loader(target: Target, checker: Path) -> bool:
    """Whether the target has the glibc loader the checker names (PT_INTERP): without it, it
    cannot start. Where the files cannot be read (a remote host), the checker's failure is
    not explained away: it is taken to have one."""
    try:
        fs = target.filesystem
    except NotApplicableError:
        return True
    with checker.open("rb") as f:
        interpreter = ElfFile(f).interpreter
    return interpreter is not None and fs.exists(interpreter)


def _without_glibc(ctx: ScanContext) -> dict[str, Any]:
    libcrypto = next((e.path for e in ctx.target.filesystem.walk() if e.name.startswith("libcrypto")),
                     None)
    if libcrypto is not None:
        raise EvidenceError(f"the target has {libcrypto} but no glibc loader to run the checker with")
    return {"unavailable": "no glibc dynamic loader and no libcrypto in the target"}


_OUTCOMES = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR, "skip": Status.SKIP}


def native_outcome(ctx: ScanContext, check_id: str,
                   evidence: Callable[[dict[str, Any]], dict[str, Any]]) -> Outcome:
    """The checker's verdict on check_id, with the library it used and the report sections that
    evidence picks from the report."""
    document = ctx.evidence(native_report)
    if "unavailable" in document:
        return Outcome(Status.SKIP, document["unavailable"])
    verdict = next((c for c in document.get("checks", []) if c.get("id") == check_id), None)
    if verdict is None or verdict.get("status") not in _OUTCOMES:
        raise EvidenceError(f"the native checker's report has no verdict on {check_id}")
    library = document["libcrypto"]
    return Outcome(_OUTCOMES[verdict["status"]], verdict["message"],
                   {"libcrypto": {k: library[k] for k in ("path", "version", "family")},
                    "checker": document["tool"], **evidence(document)})
