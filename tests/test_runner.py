"""The runner fails closed: an exception, a wrong return or a missing capability is never a pass."""

from __future__ import annotations

import pytest

from fipscheck.checks import Check, Outcome, passed
from fipscheck.model import CheckResult, Report, Status
from fipscheck.runner import ScanContext, run_check, select_checks
from fipscheck.targets import RootfsTarget


@pytest.fixture
def ctx(tmp_path):
    return ScanContext(RootfsTarget(tmp_path))


def test_an_exception_in_a_check_is_an_error(ctx):
    def explode(_ctx) -> Outcome:
        raise OSError("disk on fire")
    result = run_check(ctx, Check("x.boom", "boom", explode))
    assert result.status is Status.ERROR
    assert "disk on fire" in result.message and result.evidence["exception"] == "OSError"


def test_a_check_returning_something_else_is_an_error(ctx):
    result = run_check(ctx, Check("x.none", "none", lambda _ctx: None))
    assert result.status is Status.ERROR


def test_runtime_checks_skip_on_targets_that_cannot_run(ctx):
    result = run_check(ctx, Check("x.rt", "rt", lambda _c: passed("ran"), needs_runtime=True))
    assert result.status is Status.SKIP and "rootfs" in result.message


def test_a_failing_probe_is_not_retried_and_errors_every_check(ctx):
    calls = []

    def probe(_ctx):
        calls.append(1)
        raise OSError("unreadable")

    def uses_probe(c: ScanContext) -> Outcome:
        c.evidence(probe)
        return passed("never")

    results = [run_check(ctx, Check(f"x.{i}", "", uses_probe)) for i in range(3)]
    assert [r.status for r in results] == [Status.ERROR] * 3 and len(calls) == 1


@pytest.mark.parametrize(("statuses", "verdict", "code"), [
    ([Status.PASS, Status.SKIP], Status.PASS, 0),
    ([Status.PASS, Status.ERROR], Status.ERROR, 2),
    ([Status.ERROR, Status.FAIL], Status.FAIL, 1),
    ([Status.SKIP, Status.SKIP], Status.ERROR, 2),  # nothing verified is not compliant
    ([], Status.ERROR, 2),
])
def test_verdict(statuses, verdict, code):
    report = Report({}, tuple(CheckResult(f"c{i}", s, "") for i, s in enumerate(statuses)))
    assert (report.verdict, report.exit_code) == (verdict, code)


def test_check_ids_are_stable_dotted_lower_case():
    ids = [c.id for c in select_checks()]
    assert "libraries.banned" in ids
    assert all(i == i.lower() and "." in i and " " not in i for i in ids)
    with pytest.raises(ValueError, match="unknown check"):
        select_checks(["no.such-check"])
