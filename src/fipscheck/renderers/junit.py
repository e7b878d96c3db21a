"""JUnit XML as the pytest plugin writes it (``--junitxml``, pytest's default family xunit2):
one ``<testcase>`` per check, ``classname`` the target as written (``registry/app:1.2``, not
split into dotted packages), ``name`` the check ID; a failure is ``<failure>``, an error (could
not check) ``<error>``, a skip ``<skipped type="pytest.skip">``, a waived check
``<skipped type="pytest.xfail">``; ``message`` one line, the evidence in the body. The plugin
shapes pytest's elements with ``testcase_outcome``; ``to_junit`` writes the same for the CLI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from ..model import CheckResult, Report, Status
from .escape import visible
from .text import evidence_text

MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class TestcaseOutcome:
    tag: str | None  # failure, error, skipped, or None for a pass
    type: str | None  # the skipped element's type
    message: str
    body: str


def one_line(result: CheckResult) -> str:
    text = visible(f"{result.status.value.upper()}: {result.message}")
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 3] + "..."


def testcase_outcome(result: CheckResult) -> TestcaseOutcome:
    if result.status is Status.FAIL:
        return TestcaseOutcome("failure", None, one_line(result), evidence_text(result))
    if result.status is Status.ERROR:
        return TestcaseOutcome("error", None, one_line(result), evidence_text(result))
    if result.status is Status.SKIP:
        return TestcaseOutcome("skipped", "pytest.skip", visible(result.message), visible(result.message))
    if result.status is Status.WAIVED:
        return TestcaseOutcome("skipped", "pytest.xfail", visible(result.message), "")
    return TestcaseOutcome(None, None, "", "")


def classname(target_label: str) -> str:
    return visible(target_label)


def target_label(target: dict[str, Any]) -> str:
    """The target as the plugin names it: an image as written, other kinds as kind:name."""
    name = str(target.get("name", ""))
    return name if target.get("kind") == "image" else f"{target.get('kind')}:{name}"


def testcase(result: CheckResult, label: str, seconds: float = 0.0) -> ET.Element:
    case = ET.Element("testcase", {"classname": classname(label), "name": visible(result.id)},
                      time=f"{seconds:.3f}")
    outcome = testcase_outcome(result)
    if outcome.tag is not None:
        child = ET.SubElement(case, outcome.tag, {"type": outcome.type} if outcome.type else {})
        child.set("message", outcome.message)
        if outcome.body:
            child.text = outcome.body
    return case


def to_junit(report: Report, suite_name: str = "fipscheck") -> str:
    label = target_label(report.target)
    statuses = [r.status for r in report.checks]
    suite = ET.Element("testsuite", name=suite_name,
                       errors=str(statuses.count(Status.ERROR)), failures=str(statuses.count(Status.FAIL)),
                       skipped=str(statuses.count(Status.SKIP) + statuses.count(Status.WAIVED)),
                       tests=str(len(statuses)), time="0.000", timestamp=report.created, hostname="")
    suite.extend(testcase(r, label) for r in report.checks)
    suites = ET.Element("testsuites", name=f"{suite_name} tests")
    suites.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(suites, encoding="unicode")
