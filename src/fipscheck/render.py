"""Reports for people (text) and machines (JSON)."""

from __future__ import annotations

import json

from .model import CheckResult, Report


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)


def target_line(target: dict) -> str:
    extra = target.get("image_id", target.get("path", ""))
    return f"{target['kind']} {target['name']}" + (f" ({extra[:19]})" if extra else "")


def result_line(result: CheckResult, width: int = 26) -> str:
    return f"  {result.status.value.upper():5}  {result.id:{width}} {result.message}"


def to_text(report: Report) -> str:
    width = max((len(r.id) for r in report.checks), default=0) + 1
    lines = [f"fipscheck: {target_line(report.target)}"]
    lines += [result_line(r, width) for r in report.checks]
    verdict = report.verdict.value.upper()
    lines.append(f"verdict: {verdict}" + (f" ({report.nothing_verified})" if report.nothing_verified else ""))
    return "\n".join(lines)


def evidence_text(result: CheckResult) -> str:
    """A failed or errored check as a pytest failure shows it: message, then evidence."""
    body = json.dumps(result.evidence, indent=2, default=str)
    return f"{result.id}: {result.status.value.upper()}: {result.message}\nevidence: {body}"
