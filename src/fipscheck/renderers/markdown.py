"""Markdown for CI job summaries and pull-request comments: the verdict first, then what
failed with its evidence, then the waivers. Target strings are escaped (``escape.markdown``)."""

from __future__ import annotations

from ..model import Report, Status
from .escape import markdown
from .text import counts, target_line

ICON = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "⚠️", Status.SKIP: "⏭️",
        Status.WARN: "🟡", Status.WAIVED: "🟦"}
FINDINGS_SHOWN = 10


def to_markdown(report: Report) -> str:
    verdict = report.verdict
    lines = [f"## {ICON[verdict]} fipscheck: {verdict.value.upper()}", "",
             f"{markdown(target_line(report.target))}: {counts(report)}", ""]
    bad = [r for r in report.checks if r.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    if bad:
        lines += ["### What failed", ""]
        for result in bad:
            lines.append(f"- {ICON[result.status]} **{result.id}** ({result.status.value}): "
                         f"{markdown(result.message)}")
            for finding in result.findings[:FINDINGS_SHOWN]:
                if finding.path:
                    lines.append(f"  - {markdown(finding.path)}: {markdown(finding.message)}")
        lines.append("")
    lines += ["### Checks", "", "| check | status | message |", "|---|---|---|"]
    lines += [f"| {r.id} | {ICON[r.status]} {r.status.value} | {markdown(r.message)} |"
              for r in report.checks]
    if report.waivers or report.warnings:
        lines += ["", "### Waivers", ""]
        lines += [f"- {w['state']}: {w['check']} {markdown(w['path'] or '')} ({markdown(w['reason'])}"
                  + (f", expires {w['expires']}" if w["expires"] else "") + ")" for w in report.waivers]
        lines += [f"- warning: {markdown(w)}" for w in report.warnings]
    if report.policy.get("source"):
        lines += ["", f"Policy: {markdown(report.policy['source'])}"
                  + (f" (preset {report.policy['preset']})" if report.policy.get("preset") else "")]
    return "\n".join(lines) + "\n"
