"""The report for people: the verdict first, one line per check, then for what failed one or
two lines of evidence each (the owning package where the target has a package database);
``verbose`` adds every check's evidence. Every line is made visible (``escape.visible``):
a name from the target cannot start a line of its own, colour the terminal or hide the verdict."""

from __future__ import annotations

from typing import Any

from ..model import CheckResult, Report, Status
from .escape import json_text, visible

BAD = (Status.FAIL, Status.ERROR, Status.WARN)
FINDINGS_SHOWN = 5


def target_line(target: dict[str, Any]) -> str:
    extra = target.get("image_id", target.get("path", ""))
    return f"{target['kind']} {target['name']}" + (f" ({str(extra)[:19]})" if extra else "")


def result_line(result: CheckResult, width: int = 26) -> str:
    return f"  {result.status.value.upper():6} {result.id:{width}} {result.message}"


def counts(report: Report) -> str:
    return ", ".join(f"{sum(r.status is s for r in report.checks)} {s.value}" for s in Status
                     if s in (Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP)
                     or any(r.status is s for r in report.checks))


def _details(result: CheckResult) -> list[str]:
    """One or two lines per finding of a failed check: where, why, which package owns it."""
    lines = []
    for finding in result.findings[:FINDINGS_SHOWN]:
        if finding.path is None and finding.message == result.message:
            continue
        owner = (result.evidence.get("owners") or {}).get(finding.path or "")
        where = f"{finding.path}: " if finding.path else ""
        lines.append(f"      - {where}{finding.message}" + (f" (package {owner})" if owner else ""))
        if finding.waiver:
            lines.append(f"        waived: {finding.waiver['reason']}")
    if len(result.findings) > FINDINGS_SHOWN:
        lines.append(f"      ... {len(result.findings) - FINDINGS_SHOWN} more (-v or --format json)")
    return lines


def to_text(report: Report, verbose: bool = False) -> str:
    width = max((len(r.id) for r in report.checks), default=0) + 1
    lines = [f"fipscheck: {report.verdict.value.upper()} {target_line(report.target)}"]
    if report.policy.get("source"):
        preset = f", preset {report.policy['preset']}" if report.policy.get("preset") else ""
        lines.append(f"policy: {report.policy['source']}{preset}")
    lines = [visible(line) for line in lines]
    for result in report.checks:
        lines.append(visible(result_line(result, width)))
        if result.status in BAD or verbose:
            lines += [visible(line) for line in _details(result)]
        if verbose and result.evidence:  # JSON text is ASCII without control characters
            lines += ["      " + line for line in json_text(result.evidence).splitlines()]
    tail = [f"warning: {w}" for w in report.warnings]
    tail += [f"waiver {w['state']}: {w['check']}" + (f" {w['path']}" if w["path"] else "")
             + f" ({w['reason']})" for w in report.waivers if w["state"] != "applied" or verbose]
    why = f"{report.nothing_verified}; " if report.nothing_verified else ""
    tail.append(f"verdict: {report.verdict.value.upper()} ({why}{counts(report)})")
    return "\n".join(lines + [visible(line) for line in tail])


def evidence_text(result: CheckResult) -> str:
    """A failed or errored check as a pytest failure shows it: message, then evidence."""
    body = json_text(result.evidence)
    return visible(f"{result.id}: {result.status.value.upper()}: {result.message}") + f"\nevidence: {body}"

