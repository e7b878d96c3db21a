"""The result model every front end shares: a check result with its findings, and a report
over one target with the policy, the waivers and the warnings that shaped it."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Any, TypedDict

SCHEMA_VERSION = 1
FAIL_ON = ("fail", "error", "warn", "never")  # --fail-on: what makes the exit code non-zero


class Status(str, enum.Enum):
    """A check's status. WARN passed with a caveat the policy does not fail on (an
    unvalidated module version); WAIVED failed, but every finding is covered by a waiver."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the evidence could not be gathered: never counted as a pass
    SKIP = "skip"  # not applicable to this target, with the reason as message
    WARN = "warn"
    WAIVED = "waived"


class FindingDict(TypedDict):
    """A finding in the JSON report."""

    message: str
    path: str | None
    waiver: dict[str, Any] | None


class CheckDict(TypedDict):
    """A check's result in the JSON report (``checks[]``)."""

    id: str
    status: str  # a Status value
    message: str
    evidence: dict[str, Any]
    findings: list[FindingDict]


class ToolDict(TypedDict):
    name: str
    version: str


class ReportDict(TypedDict):
    """The JSON report (``--format json``; ``schemas/report.schema.json`` is its schema)."""

    schema_version: int
    tool: ToolDict
    created: str
    target: dict[str, Any]  # kind, name, and what the kind of target knows
    verdict: str  # a Status value: pass, fail or error
    nothing_verified: str | None
    policy: dict[str, Any]
    waivers: list[dict[str, Any]]
    warnings: list[str]
    checks: list[CheckDict]


@dataclass(frozen=True)
class Finding:
    """One thing a check found wrong, where it has a place (a file in the target). Waivers
    and SARIF results work per finding; ``waiver`` is the waiver that covers it."""

    message: str
    path: str | None = None
    waiver: dict[str, Any] | None = None

    def to_dict(self) -> FindingDict:
        """As the JSON report has it."""
        return {"message": self.message, "path": self.path, "waiver": self.waiver}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one target: status, a one-line message, the evidence."""

    id: str
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    # False for a check whose pass shows only that something is absent (banned libraries) or
    # that files exist (required tools): alone, such passes verify nothing about FIPS.
    affirmative: bool = True

    def to_dict(self) -> CheckDict:
        """As the JSON report has it."""
        return {"id": self.id, "status": self.status.value, "message": self.message,
                "evidence": self.evidence, "findings": [f.to_dict() for f in self.findings]}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Report:
    """Every check's result on one target. ``policy`` says which policy (file, preset) decided
    what, ``waivers`` each waiver's state, ``warnings`` what needs attention without failing."""

    target: dict[str, Any]
    checks: tuple[CheckResult, ...]
    policy: dict[str, Any] = field(default_factory=dict)
    waivers: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    created: str = field(default_factory=_now)

    @property
    def verdict(self) -> Status:
        """FAIL if any check failed; else ERROR if any check errored or nothing was verified
        (fail closed: a waived or skipped check verifies nothing); else PASS."""
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
                r.status in (Status.PASS, Status.WARN) and (r.affirmative or not asked_for_fips)
                for r in self.checks):
            return None
        if not self.checks:
            return "nothing verified: no check was run"
        absent = [f"{r.id} ({r.message})" for r in self.checks
                  if r.status in (Status.PASS, Status.WARN)]
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
        """0 compliant, 1 not compliant, 2 could not check (``fipscheck scan``'s exit code)."""
        return self.exit_code_for("fail")

    def exit_code_for(self, fail_on: str = "fail") -> int:
        """0, 1 (not compliant) or 2 (could not check), as ``--fail-on`` asks: ``fail`` (the
        default) fails on failures and errors, ``warn`` on warnings too, ``error`` only when
        something could not be checked, ``never`` never (a report-only CI step)."""
        if fail_on not in FAIL_ON:
            raise ValueError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
        statuses = {result.status for result in self.checks}
        if fail_on == "never":
            return 0
        if fail_on == "error":
            return 2 if Status.ERROR in statuses or self.verdict is Status.ERROR else 0
        code = {Status.PASS: 0, Status.FAIL: 1}.get(self.verdict, 2)
        if code == 0 and fail_on == "warn" and (Status.WARN in statuses or self.warnings):
            return 1
        return code

    def failed(self) -> list[CheckResult]:
        """The checks that failed or could not be checked."""
        return [r for r in self.checks if r.status in (Status.FAIL, Status.ERROR)]

    def to_dict(self) -> ReportDict:
        """The JSON report (``--format json``)."""
        from . import __version__  # the package imports this module first

        return {"schema_version": SCHEMA_VERSION, "tool": {"name": "fipscheck", "version": __version__},
                "created": self.created, "target": self.target, "verdict": self.verdict.value,
                "nothing_verified": self.nothing_verified,
                "policy": self.policy, "waivers": list(self.waivers), "warnings": list(self.warnings),
                "checks": [r.to_dict() for r in self.checks]}
