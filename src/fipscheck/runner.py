"""Runs checks against a target. Probes are computed once per target and shared by the checks
that need them; a probe's failure is remembered too, so every check that needs it errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .checks import Check, Outcome, all_checks, checks_named
from .errors import NotApplicableError
from .model import CheckResult, Report, Status
from .policy import Policy
from .targets import Target

T = TypeVar("T")


class ScanContext:
    def __init__(self, target: Target, policy: Policy | None = None) -> None:
        self.target = target
        self.policy = policy or Policy()
        self._evidence: dict[Callable, object] = {}
        self._failures: dict[Callable, BaseException] = {}

    def evidence(self, probe: Callable[[ScanContext], T]) -> T:
        if probe in self._failures:
            raise self._failures[probe]
        if probe not in self._evidence:
            try:
                self._evidence[probe] = probe(self)
            except Exception as error:
                self._failures[probe] = error
                raise
        return self._evidence[probe]  # type: ignore[return-value]


def run_check(ctx: ScanContext, check: Check) -> CheckResult:
    if check.needs_runtime and not ctx.target.can_run:
        return CheckResult(check.id, Status.SKIP,
                           f"needs to run inside the target; a {ctx.target.kind} target cannot")
    try:
        outcome = check.run(ctx)
    except NotApplicableError as reason:
        return CheckResult(check.id, Status.SKIP, str(reason))
    except Exception as error:  # fail closed: whatever went wrong, this is an error
        import traceback  # here: only an error needs it (fipscheck.status() imports less)

        return CheckResult(check.id, Status.ERROR, f"could not gather the evidence: {error}",
                           {"exception": type(error).__name__,
                            "where": traceback.extract_tb(error.__traceback__)[-1].name})
    if not isinstance(outcome, Outcome):
        return CheckResult(check.id, Status.ERROR, f"check returned {outcome!r}, not an Outcome")
    return CheckResult(check.id, outcome.status, outcome.message, outcome.evidence)


def select_checks(ids: Iterable[str] | None = None) -> list[Check]:
    """The checks with these IDs (every check without), importing only what they need."""
    return checks_named(ids) if ids else all_checks()


def scan(target: Target, policy: Policy | None = None, checks: Iterable[str] | None = None) -> Report:
    ctx = ScanContext(target, policy)
    results = tuple(run_check(ctx, c) for c in select_checks(checks))
    return Report(target.describe(), results)  # described after the checks: what they read shows
