"""SARIF 2.1.0 for code-scanning views: one rule per check ID; one result per finding (with
the file in the target as its location) for failures, warnings and waived findings (waived
ones carry an accepted suppression with the waiver's reason); passes and skips as results of
kind pass / notApplicable; an error as kind open plus a tool notification."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .. import __version__
from ..checks import all_checks
from ..model import CheckResult, Finding, Report, Status
from .escape import json_text, utf8_safe

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {Status.FAIL: "error", Status.WARN: "warning", Status.WAIVED: "error"}
KIND = {Status.PASS: "pass", Status.SKIP: "notApplicable", Status.ERROR: "open"}


def _uri(path: str) -> str:
    """The path's original bytes, percent-encoded: valid for any file name."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _result(result: CheckResult, index: int, finding: Finding | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"ruleId": result.id, "ruleIndex": index,
                             "message": {"text": utf8_safe(finding.message if finding else result.message)}}
    if result.status in LEVEL:
        entry.update(kind="fail", level=LEVEL[result.status])
    else:
        entry.update(kind=KIND[result.status], level="none")
    if finding is not None and finding.path:
        entry["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": _uri(finding.path),
                                                                          "uriBaseId": "TARGETROOT"}}}]
    if finding is not None and finding.waiver:
        entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                  "justification": finding.waiver["reason"]}]
    entry["properties"] = {"status": result.status.value, "check_message": result.message}
    return entry


def to_sarif_document(report: Report) -> dict[str, Any]:
    titles = {c.id: c.title for c in all_checks()}
    ids = sorted({r.id for r in report.checks})
    rules = [{"id": i, "name": i, "shortDescription": {"text": titles.get(i, i)},
              "helpUri": "https://github.com/fipscheck/fipscheck#checks"} for i in ids]
    index = {i: n for n, i in enumerate(ids)}
    results = []
    for result in report.checks:
        findings = result.findings if result.status in LEVEL else ()
        results += [_result(result, index[result.id], f) for f in findings] or [
            _result(result, index[result.id], None)]
    notifications = [{"level": "error", "message": {"text": f"{r.id}: {r.message}"},
                      "descriptor": {"id": r.id}} for r in report.checks if r.status is Status.ERROR]
    notifications += [{"level": "warning", "message": {"text": w}} for w in report.warnings]
    return {
        "$schema": SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "fipscheck", "version": __version__,
                                "informationUri": "https://github.com/fipscheck/fipscheck", "rules": rules}},
            "originalUriBaseIds": {"TARGETROOT": {"uri": "file:///", "description": {
                "text": f"the root filesystem of {report.target.get('kind')} {report.target.get('name')}"}}},
            "invocations": [{"executionSuccessful": report.verdict is not Status.ERROR,
                             "endTimeUtc": report.created.replace("+00:00", "Z"),
                             "toolExecutionNotifications": notifications}],
            "results": results,
            "properties": {"target": report.target, "verdict": report.verdict.value,
                           "policy": report.policy, "waivers": list(report.waivers)},
        }],
    }


def to_sarif(report: Report) -> str:
    return json_text(to_sarif_document(report))
