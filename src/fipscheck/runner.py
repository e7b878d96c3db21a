"""Runs checks against a target. Probes are computed once per target and shared by the checks
that need them; a probe's failure is remembered too, so every check that needs it errors."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import TypeVar

from . import progress
from .checks import Check, Outcome, all_checks
from .deadline import Deadline, ScanTimeout
from .errors import NotApplicableError
from .model import CheckResult, Report, Status
from .policy import Policy
from .targets import Target

T = TypeVar("T")


class ScanContext:
    def __init__(self, target: Target, policy: Policy | None = None,
                 deadline: Deadline | None = None) -> None:
        self.target = target
        self.policy = policy or Policy()
        self.deadline = deadline or Deadline()
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
    if ctx.deadline.expired():
        return CheckResult(check.id, Status.ERROR, f"not run: {ctx.deadline.message}",
                           {"timeout_seconds": ctx.deadline.seconds})
    progress.phase(check.id)
    try:
        with ctx.deadline.armed():
            if check.needs_runtime:  # e.g. an arm64 image in an x86-64 engine: nothing can run
                from .probes.platform import runtime_platform  # not on `import fipscheck`

                ctx.evidence(runtime_platform).require_runnable()
            outcome = check.run(ctx)
    except NotApplicableError as reason:
        return CheckResult(check.id, Status.SKIP, str(reason))
    except ScanTimeout as error:
        return CheckResult(check.id, Status.ERROR, f"could not finish: {error}",
                           {"timeout_seconds": ctx.deadline.seconds})
    except Exception as error:  # fail closed: whatever went wrong, this is an error
        return CheckResult(check.id, Status.ERROR, f"could not gather the evidence: {error}",
                           {"exception": type(error).__name__,
                            "where": traceback.extract_tb(error.__traceback__)[-1].name})
    if not isinstance(outcome, Outcome):
        return CheckResult(check.id, Status.ERROR, f"check returned {outcome!r}, not an Outcome")
    return CheckResult(check.id, outcome.status, outcome.message, outcome.evidence)


def select_checks(ids: Iterable[str] | None = None) -> list[Check]:
    checks = all_checks()
    if not ids:
        return checks
    wanted = set(ids)
    unknown = wanted - {c.id for c in checks}
    if unknown:
        raise ValueError(f"unknown check ID(s): {', '.join(sorted(unknown))}")
    return [c for c in checks if c.id in wanted]


def scan(target: Target, policy: Policy | None = None, checks: Iterable[str] | None = None,
         deadline: Deadline | None = None) -> Report:
    """Run the checks (all by default) on the target, each within what is left of the
    deadline (``--timeout``), if one is given."""
    ctx = ScanContext(target, policy, deadline)
    results = tuple(run_check(ctx, c) for c in select_checks(checks))
    progress.finished()
    return Report(target.describe(), results)  # described after the checks: what they read shows
