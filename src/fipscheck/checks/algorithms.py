"""Algorithms as a process in the target gets them (the native checker's report): approved
ones give their known answers, non-approved ones are refused. A policy may choose which of
the checker's algorithms it requires (``[algorithms]``); the others are then reported only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import Status
from ..probes.native import native_outcome
from . import Outcome, check, failed, passed

if TYPE_CHECKING:
    from ..runner import ScanContext


def _as_policy_chooses(ctx: ScanContext, check_id: str, section: str, key: str,
                       chosen: tuple[str, ...] | None, good: Callable[[dict[str, Any]], bool],
                       verbs: tuple[str, str]) -> Outcome:
    outcome = native_outcome(ctx, check_id, lambda report: {"results": report["algorithms"][section]})
    if chosen is None or outcome.status not in (Status.PASS, Status.FAIL):
        return outcome
    results = {r["algorithm"]: r for r in outcome.evidence["results"]}
    evidence = {**outcome.evidence, "required_by_policy": list(chosen), "decided_by": ctx.policy.origin(key)}
    bad = [name for name in chosen if not good(results.get(name, {}))]
    if bad:
        return failed(f"{', '.join(bad)} {verbs[1]}", **evidence)
    return passed(f"{', '.join(chosen)} {verbs[0]} (the algorithms the policy requires)", **evidence)


@check("algorithms.approved", "Approved algorithms work: known-answer tests of SHA-256, SHA-384, "
       "HMAC-SHA256, AES-256-GCM and AES-256-CBC", needs_runtime=True)
def approved(ctx: ScanContext) -> Outcome:
    return _as_policy_chooses(ctx, "algorithms.approved", "approved", "approved_algorithms",
                              ctx.policy.approved_algorithms,
                              lambda r: bool(r.get("served") and r.get("correct")),
                              ("gave their known answers", "did not give their known answers"))


@check("algorithms.non-approved", "Non-approved algorithms (MD5, MD4, RC4, DES, HMAC-MD5) are "
       "refused", needs_runtime=True)
def non_approved(ctx: ScanContext) -> Outcome:
    return _as_policy_chooses(ctx, "algorithms.non-approved", "non_approved", "non_approved_algorithms",
                              ctx.policy.non_approved_algorithms, lambda r: bool(r.get("refused")),
                              ("were refused", "were served although the policy requires their refusal"))
