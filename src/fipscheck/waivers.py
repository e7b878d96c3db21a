"""Waivers at work: a finding covered by an active waiver is waived (its own status when every
finding of a check is); one covered only by an expired waiver stays a failure that says so;
a waiver that matched nothing on a target it applies to is stale (a warning)."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from .model import CheckResult, Finding, Status
from .policy import Waiver

WAIVABLE = (Status.FAIL, Status.WARN)  # an error is never waived: fail closed


@dataclass
class WaiverLedger:
    """The waivers of one policy on one target: applies them result by result and remembers
    what matched, so that the states (applied, expired, stale, ...) can be told at the end."""

    waivers: tuple[Waiver, ...]
    target_name: str
    today: datetime.date = field(default_factory=datetime.date.today)
    matched: Counter[int] = field(default_factory=Counter)
    expired_hits: set[int] = field(default_factory=set)
    checks_run: set[str] = field(default_factory=set)

    def apply(self, result: CheckResult) -> CheckResult:
        self.checks_run.add(result.id)
        relevant = [(i, w) for i, w in enumerate(self.waivers)
                    if w.check == result.id and w.in_scope(self.target_name)]
        if result.status not in WAIVABLE or not relevant:
            return result
        findings, expired_notes = [], []
        for finding in result.findings or (Finding(result.message),):
            covering = [(i, w) for i, w in relevant if w.covers(finding.path)]
            active = next(((i, w) for i, w in covering if not w.expired(self.today)), None)
            if active is not None:
                self.matched[active[0]] += 1
                findings.append(replace(finding, waiver=active[1].to_dict()))
                continue
            for i, w in covering:
                self.expired_hits.add(i)
                expired_notes.append(f"the waiver for {finding.path or result.id} expired on "
                                     f"{w.expires} ({w.reason})")
            findings.append(finding)
        still = [f for f in findings if f.waiver is None]
        waived = len(findings) - len(still)
        if not still:
            reasons = "; ".join(dict.fromkeys(f.waiver["reason"] for f in findings if f.waiver))
            return replace(result, status=Status.WAIVED, findings=tuple(findings),
                           message=f"waived ({reasons}): {result.message}")
        notes = ([f"{waived} of {len(findings)} findings waived"] if waived else []) + list(
            dict.fromkeys(expired_notes))
        message = f"{result.message} [{'; '.join(notes)}]" if notes else result.message
        return replace(result, findings=tuple(findings), message=message)

    def states(self, matched: Counter[int] | None = None) -> list[dict[str, Any]]:
        """Each waiver with its state on this target: applied, expired, stale, out of scope
        (its image glob does not match) or not run (its check did not run)."""
        counts = self.matched if matched is None else matched
        states = []
        for i, waiver in enumerate(self.waivers):
            if not waiver.in_scope(self.target_name):
                state = "out of scope"
            elif waiver.check not in self.checks_run:
                state = "not run"
            elif counts[i]:
                state = "applied"
            elif i in self.expired_hits:
                state = "expired"
            else:
                state = "stale"
            states.append({**waiver.to_dict(), "state": state, "findings_waived": counts[i]})
        return states

    def warnings(self, matched: Counter[int] | None = None) -> list[str]:
        return [f"stale waiver: {s['check']}" + (f" path {s['path']}" if s["path"] else "")
                + f" matched nothing on {self.target_name} ({s['reason']}): remove it or fix its path"
                for s in self.states(matched) if s["state"] == "stale"]
