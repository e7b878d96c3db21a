"""Algorithms as a process in the target gets them (the native checker's report): approved
ones give their known answers, non-approved ones are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..probes.native import native_outcome
from . import Outcome, check

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("algorithms.approved", "Approved algorithms work: known-answer tests of SHA-256, SHA-384, "
       "HMAC-SHA256, AES-256-GCM and AES-256-CBC", needs_runtime=True)
def approved(ctx: ScanContext) -> Outcome:
    return native_outcome(ctx, "algorithms.approved", lambda report: {
        "results": report["algorithms"]["approved"]})


@check("algorithms.non-approved", "Non-approved algorithms (MD5, MD4, RC4, DES, HMAC-MD5) are "
       "refused", needs_runtime=True)
def non_approved(ctx: ScanContext) -> Outcome:
    return native_outcome(ctx, "algorithms.non-approved", lambda report: {
        "results": report["algorithms"]["non_approved"]})
