"""Runs checks against a target. Probes are computed once per target and shared by the checks
that need them; a probe's failure is remembered too, so every check that needs it errors."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import TypeVar

from .checks import Check, Outcome, all_checks, unknown_ids_message
from .errors import NotApplicableError
from .model import CheckResult, Finding, Report, Status
from .policy import Policy
from .probes.packages import owners_of, package_owners
from .targets import Target
from .waivers import WaiverLedger

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
    """One check's result on the context's target (waivers not yet applied)."""
    if check.id in ctx.policy.skip:
        return CheckResult(check.id, Status.SKIP, f"skipped by the policy "
                           f"({ctx.policy.origin('skip')}): {ctx.policy.skip[check.id]}")
    if check.needs_runtime and not ctx.target.can_run:
        return CheckResult(check.id, Status.SKIP,
                           f"needs to run inside the target; a {ctx.target.kind} target cannot")
    try:
        outcome = check.run(ctx)
    except NotApplicableError as reason:
        return CheckResult(check.id, Status.SKIP, str(reason))
    except Exception as error:  # fail closed: whatever went wrong, this is an error
        return CheckResult(check.id, Status.ERROR, f"could not gather the evidence: {error}",
                           {"exception": type(error).__name__,
                            "where": traceback.extract_tb(error.__traceback__)[-1].name})
    if not isinstance(outcome, Outcome):
        return CheckResult(check.id, Status.ERROR, f"check returned {outcome!r}, not an Outcome")
    findings = outcome.findings
    if not findings and outcome.status in (Status.FAIL, Status.WARN):
        findings = (Finding(outcome.message),)  # the whole check is one finding
    evidence = outcome.evidence
    paths = [f.path for f in findings if f.path]
    if paths and outcome.status is Status.FAIL:
        evidence = {**evidence, **_owners(ctx, paths)}
    return CheckResult(check.id, outcome.status, outcome.message, evidence, findings)


def _owners(ctx: ScanContext, paths: list[str]) -> dict[str, object]:
    """The packages owning a failure's files, where the target has a package database: helps
    the reader, decides nothing (so a database that cannot be read is only a note)."""
    try:
        owners = owners_of(ctx, paths)
        note = ctx.evidence(package_owners).note
    except Exception as error:
        return {"owners_note": f"package database not read: {type(error).__name__}: {error}"}
    return {**({"owners": owners} if owners else {}), **({"owners_note": note} if note else {})}


def select_checks(ids: Iterable[str] | None = None) -> list[Check]:
    checks = all_checks()
    if not ids:
        return checks
    wanted = set(ids)
    unknown = wanted - {c.id for c in checks}
    if unknown:
        raise ValueError(unknown_ids_message(unknown, [c.id for c in checks]))
    return [c for c in checks if c.id in wanted]


def scan(target: Target, policy: Policy | None = None, checks: Iterable[str] | None = None) -> Report:
    """Every selected check on the target, the policy's waivers applied."""
    ctx = ScanContext(target, policy)
    ledger = WaiverLedger(ctx.policy.waivers, target.name)
    results = tuple(ledger.apply(run_check(ctx, c)) for c in select_checks(checks))
    # described after the checks: what they read shows
    return Report(target.describe(), results, policy=ctx.policy.to_dict(),
                  waivers=tuple(ledger.states()), warnings=tuple(ledger.warnings()))
