"""The result model every front end shares: a check result, and a report over one target."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the evidence could not be gathered: never counted as a pass
    SKIP = "skip"  # not applicable to this target, with the reason as message


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # False for a check whose pass shows only that something is absent (banned libraries) or
    # that files exist (required tools): alone, such passes verify nothing about FIPS.
    affirmative: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status.value, "message": self.message,
                "evidence": self.evidence}


@dataclass(frozen=True)
class Report:
    target: dict[str, Any]
    checks: tuple[CheckResult, ...]

    @property
    def verdict(self) -> Status:
        """FAIL if any check failed; else ERROR if any check errored or nothing was verified
        (fail closed); else PASS."""
        statuses = {result.status for result in self.checks}
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.ERROR in statuses or self.nothing_verified:
            return Status.ERROR
        return Status.PASS

    @property
    def nothing_verified(self) -> str | None:
        """Why this report, though nothing in it failed or errored, proves nothing about a real
        system: no check passed that saw a FIPS module at work (an empty root, a root without
        programs, libcrypto, Go binaries or interpreters: every such check not applicable).
        Passes that only show absence (banned libraries) or presence of files (required tools)
        count only when the report asked nothing else (``--check libraries.banned``). None
        when something was verified, or when a failure or error decides the verdict anyway."""
        asked_for_fips = any(r.affirmative for r in self.checks)
        if any(r.status in (Status.FAIL, Status.ERROR) for r in self.checks) or any(
                r.status is Status.PASS and (r.affirmative or not asked_for_fips) for r in self.checks):
            return None
        if not self.checks:
            return "nothing verified: no check was run"
        absent = [f"{r.id} ({r.message})" for r in self.checks if r.status is Status.PASS]
        reasons: dict[str, list[str]] = {}  # one reason, the checks it was given for
        for r in self.checks:
            if r.status is Status.SKIP:
                reasons.setdefault(r.message, []).append(r.id)
        skipped = [f"{', '.join(ids)}: {message}" for message, ids in reasons.items()]
        reason = "nothing verified: no check saw a FIPS module at work"
        if skipped:
            reason += f" ({'; '.join(skipped)})"
        if absent:
            reason += f"; what passed shows only absence or presence of files: {'; '.join(absent)}"
        return reason

    @property
    def exit_code(self) -> int:
        return {Status.PASS: 0, Status.FAIL: 1}.get(self.verdict, 2)

    def failed(self) -> list[CheckResult]:
        return [r for r in self.checks if r.status in (Status.FAIL, Status.ERROR)]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "target": self.target,
                "verdict": self.verdict.value, "nothing_verified": self.nothing_verified,
                "checks": [r.to_dict() for r in self.checks]}
