"""The runner fails closed: an exception, a wrong return or a missing capability is never a pass."""

from __future__ import annotations

import pytest

from fipscheck.checks import Check, Outcome, failed, passed
from fipscheck.errors import reading
from fipscheck.model import CheckResult, Finding, Report, Status
from fipscheck.runner import ScanContext, run_check, select_checks
from fipscheck.targets import RootfsTarget
from fipscheck.targets.process import ProcessTarget


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


def failing_on(path: str) -> Check:
    return Check("x.file", "file", lambda _ctx: failed("bad file", findings=[Finding("bad", path)]))


def test_a_failure_names_the_package_owning_its_file(tmp_path):
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "libmbedcrypto7:amd64.list").write_text("/.\n/usr/lib/libmbedcrypto.so.7\n")
    result = run_check(ScanContext(RootfsTarget(tmp_path)), failing_on("/lib/libmbedcrypto.so.7"))
    assert result.evidence["owners"] == {"/lib/libmbedcrypto.so.7": "libmbedcrypto7"}  # merged /usr


def test_the_process_reads_no_package_database():
    # This host's dpkg owns /usr/bin/python3; status() does not pay for reading that database.
    with ProcessTarget() as target:
        result = run_check(ScanContext(target), failing_on("/usr/bin/python3"))
    assert result.status is Status.FAIL
    assert "owners" not in result.evidence and "owners_note" not in result.evidence


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


def test_an_error_names_the_exception_type_and_the_file_being_read(ctx):
    """A MemoryError or RecursionError from a parser has no message: the type and the file
    must still be named."""
    def parse(_ctx) -> Outcome:
        with reading("/usr/bin/app"):
            raise MemoryError()
    result = run_check(ctx, Check("x.oom", "", parse))
    assert result.status is Status.ERROR
    assert result.message == "could not gather the evidence: MemoryError while reading /usr/bin/app"
    assert result.evidence["file"] == "/usr/bin/app" and result.evidence["exception"] == "MemoryError"


def test_the_innermost_file_is_named_and_a_message_kept(ctx):
    def parse(_ctx) -> Outcome:
        with reading("/etc/ssl/openssl.cnf"), reading("/etc/ssl/included.cnf"):
            raise RecursionError("maximum recursion depth exceeded")
    message = run_check(ctx, Check("x.deep", "", parse)).message
    assert message == ("could not gather the evidence: RecursionError while reading "
                       "/etc/ssl/included.cnf: maximum recursion depth exceeded")


def absence(status: Status, message: str = "") -> CheckResult:
    return CheckResult("libraries.banned", status, message, affirmative=False)


@pytest.mark.parametrize(("results", "verdict"), [
    ([absence(Status.PASS, "none among 0 files"), CheckResult("go", Status.SKIP, "no Go")], Status.ERROR),
    ([absence(Status.PASS), CheckResult("go", Status.PASS, "FIPS module")], Status.PASS),
    ([absence(Status.PASS), CheckResult("go", Status.FAIL, "plain Go")], Status.FAIL),
    ([absence(Status.PASS)], Status.PASS),  # asked only about absence: answered
])
def test_passes_that_show_only_absence_verify_nothing(results, verdict):
    report = Report({}, tuple(results))
    assert report.verdict is verdict
    assert (report.nothing_verified is not None) == (verdict is Status.ERROR)
    if report.nothing_verified:  # the reason: what was not applicable, and what passed
        assert report.nothing_verified == (
            "nothing verified: no check saw a FIPS module at work (go: no Go); what passed shows "
            "only absence or presence of files: libraries.banned (none among 0 files)")
        assert report.to_dict()["nothing_verified"] == report.nothing_verified
