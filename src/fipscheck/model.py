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

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status.value, "message": self.message,
                "evidence": self.evidence}


@dataclass(frozen=True)
class Report:
    target: dict[str, Any]
    checks: tuple[CheckResult, ...]

    @property
    def verdict(self) -> Status:
        """FAIL if any check failed; else ERROR if any check errored or nothing was verified at
        all (fail closed); else PASS."""
        statuses = {result.status for result in self.checks}
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.ERROR in statuses or Status.PASS not in statuses:
            return Status.ERROR
        return Status.PASS

    @property
    def exit_code(self) -> int:
        return {Status.PASS: 0, Status.FAIL: 1}.get(self.verdict, 2)

    def failed(self) -> list[CheckResult]:
        return [r for r in self.checks if r.status in (Status.FAIL, Status.ERROR)]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "target": self.target,
                "verdict": self.verdict.value, "checks": [r.to_dict() for r in self.checks]}
