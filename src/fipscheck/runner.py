"""Runs checks against a target. Probes are computed once per target and shared by the checks
that need them; a probe's failure is remembered too, so every check that needs it errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from . import progress
from .checks import Check, Outcome, all_checks, checks_named
from .deadline import Deadline, ScanTimeout
from .errors import NotApplicableError, describe, file_being_read
from .model import CheckResult, Finding, Report, Status
from .policy import Policy
from .waivers import WaiverLedger

if TYPE_CHECKING:
    from .targets.base import Target

T = TypeVar("T")


class ScanContext:
    def __init__(self, target: Target, policy: Policy | None = None,
                 deadline: Deadline | None = None) -> None:
        self.target = target
        self.policy = policy or Policy()
        self.deadline = deadline or Deadline()
        self._evidence: dict[Callable[[ScanContext], object], object] = {}
        self._failures: dict[Callable[[ScanContext], object], BaseException] = {}
        # One lock per probe: checks may run in two threads (see scan), and a probe asked
        # for by both is computed once. Probes only ever ask for other probes, never back.
        self._locks: dict[Callable[[ScanContext], object], threading.RLock] = {}
        self._locks_lock = threading.Lock()

    def evidence(self, probe: Callable[[ScanContext], T]) -> T:
        if probe in self._evidence:
            return self._evidence[probe]  # type: ignore[return-value]
        with self._locks_lock:
            lock = self._locks.setdefault(probe, threading.RLock())
        with lock:
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
    result = _run(ctx, check)
    return result if check.affirmative else replace(result, affirmative=False)


def _run(ctx: ScanContext, check: Check) -> CheckResult:
    if check.id in ctx.policy.skip:
        return CheckResult(check.id, Status.SKIP, f"skipped by the policy "
                           f"({ctx.policy.origin('skip')}): {ctx.policy.skip[check.id]}")
    if check.needs_runtime and not ctx.target.can_run:
        return CheckResult(check.id, Status.SKIP,
                           f"needs to run inside the target; {ctx.target.cannot_run_reason}")
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
        import traceback  # here: only an error needs it (fipscheck.status() imports less)

        return CheckResult(check.id, Status.ERROR, f"could not gather the evidence: {describe(error)}",
                           {"exception": type(error).__name__, "file": file_being_read(error),
                            "where": traceback.extract_tb(error.__traceback__)[-1].name})
    if not isinstance(outcome, Outcome):
        return CheckResult(check.id, Status.ERROR, f"check returned {outcome!r}, not an Outcome")
    findings = outcome.findings
    if not findings and outcome.status in (Status.FAIL, Status.WARN):
        findings = (Finding(outcome.message),)  # the whole check is one finding
    evidence = outcome.evidence
    paths = [f.path for f in findings if f.path]
    if paths and outcome.status is Status.FAIL and ctx.target.names_owners:
        evidence = {**evidence, **_owners(ctx, paths)}
    return CheckResult(check.id, outcome.status, outcome.message, evidence, findings)


def _owners(ctx: ScanContext, paths: list[str]) -> dict[str, object]:
    """The packages owning a failure's files, where the target has a package database: helps
    the reader, decides nothing (so a database that cannot be read is only a note)."""
    from .probes.packages import owners_of, package_owners  # only a failure needs them

    try:
        owners = owners_of(ctx, paths)
        note = ctx.evidence(package_owners).note
    except Exception as error:
        return {"owners_note": f"package database not read: {type(error).__name__}: {error}"}
    return {**({"owners": owners} if owners else {}), **({"owners_note": note} if note else {})}


def select_checks(ids: Iterable[str] | None = None) -> list[Check]:
    """The checks with these IDs (every check without), importing only what they need."""
    return checks_named(ids) if ids else all_checks()


def run_checks(ctx: ScanContext, checks: list[Check]) -> Iterator[CheckResult]:
    """The checks' results, in the order of ``checks``.

    On a target that runs commands, once its files are read (nothing runs in it before), the
    checks that run something there go to a thread of their own: they mostly wait for the
    engine (starting the container, each exec) while the static checks analyse the files
    here. Results are still given in order; a static check is run ahead while the next
    result due is a runtime one that is not done yet."""
    runtime = [c for c in checks if c.needs_runtime and ctx.target.can_run]
    if not runtime or len(runtime) == len(checks) or not _files_read(ctx.target):
        yield from (run_check(ctx, c) for c in checks)
        return
    import queue  # here: fipscheck.status() runs its checks in one thread
    from collections import deque

    finished: queue.Queue[CheckResult] = queue.Queue()

    def run_runtime() -> None:
        for c in runtime:
            finished.put(run_check(ctx, c))

    threading.Thread(target=run_runtime, name="fipscheck-runtime-checks", daemon=True).start()
    ahead = deque(c for c in checks if c not in runtime)
    done: dict[str, CheckResult] = {}
    for check in checks:
        while check.id not in done:
            if check in runtime and not ahead:
                result = finished.get()
            elif check in runtime:
                try:
                    result = finished.get_nowait()
                except queue.Empty:
                    result = run_check(ctx, ahead.popleft())
            else:
                result = run_check(ctx, ahead.popleft())
            done[result.id] = result
        yield done.pop(check.id)


def _files_read(target: Target) -> bool:
    """Read the target's files now; False when they cannot be (each check then reports
    that in its own order, as without the thread)."""
    try:
        target.filesystem  # noqa: B018 - reading is the point
    except Exception:  # the checks report it
        return False
    return True


def scan_results(target: Target, policy: Policy | None = None, checks: Iterable[str] | None = None,
                 deadline: Deadline | None = None,
                 ledger: WaiverLedger | None = None) -> Iterator[CheckResult]:
    """The checks' results one by one (a front end interrupted midway keeps those done),
    with the ledger's waivers applied to each."""
    ctx = ScanContext(target, policy, deadline)
    for result in run_checks(ctx, select_checks(checks)):
        yield ledger.apply(result) if ledger is not None else result
    progress.finished()


def waiver_ledger(target: Target, policy: Policy | None) -> WaiverLedger:
    """The ledger of the policy's waivers for one scan of ``target``."""
    return WaiverLedger((policy or Policy()).waivers, target.name)


def report_of(target: Target, policy: Policy | None, results: Iterable[CheckResult],
              ledger: WaiverLedger) -> Report:
    """The report of a scan: the results, the policy, each waiver's state, the warnings.
    The target is described after the checks: what they read shows."""
    return Report(target.describe(), tuple(results), policy=(policy or Policy()).to_dict(),
                  waivers=tuple(ledger.states()), warnings=tuple(ledger.warnings()))


def scan(target: Target, policy: Policy | None = None, checks: Iterable[str] | None = None,
         deadline: Deadline | None = None) -> Report:
    """Every selected check (all by default) on the target, each within what is left of the
    deadline (``--timeout``), if one is given, the policy's waivers applied."""
    ledger = waiver_ledger(target, policy)
    results = tuple(scan_results(target, policy, checks, deadline, ledger))
    return report_of(target, policy, results, ledger)
