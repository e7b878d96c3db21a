"""The table of named checks. Each module of this package registers its checks with
``@check``; a check turns evidence gathered by probes into an Outcome."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import Finding, Status

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()  # what failed, one per file where there is one


def passed(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.PASS, message, evidence)


def failed(message: str, *, findings: Iterable[Finding] = (), **evidence: Any) -> Outcome:
    """A failure; ``findings`` name each failing file, so that waivers and SARIF can address
    them one by one (without them the whole check is one finding)."""
    return Outcome(Status.FAIL, message, evidence, tuple(findings))


def errored(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.ERROR, message, evidence)


def not_applicable(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.SKIP, message, evidence)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[ScanContext], Outcome]
    needs_runtime: bool = False  # runs something inside the target


_REGISTRY: dict[str, Check] = {}


def check(check_id: str, title: str, *, needs_runtime: bool = False):
    def register(func: Callable[[ScanContext], Outcome]) -> Callable[[ScanContext], Outcome]:
        if check_id in _REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        _REGISTRY[check_id] = Check(check_id, title, func, needs_runtime)
        return func
    return register


def all_checks() -> list[Check]:
    """Every built-in check, ordered by ID."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda c: c.id)


def closest_ids(wrong: str, known: Iterable[str] | None = None) -> list[str]:
    """Check IDs that look like ``wrong`` (a typo's likely meaning), best first."""
    ids = list(known) if known is not None else [c.id for c in all_checks()]
    return difflib.get_close_matches(wrong, ids, n=3, cutoff=0.5)


def unknown_ids_message(unknown: Iterable[str], known: Iterable[str] | None = None) -> str:
    """``unknown check ID(s): x (did you mean y?)``, for the CLI, the plugin and the policy."""
    parts = []
    for wrong in sorted(unknown):
        close = closest_ids(wrong, known)
        parts.append(f"{wrong} (did you mean {' or '.join(close)}?)" if close else wrong)
    return f"unknown check ID(s): {', '.join(parts)}; `fipscheck checks` lists them"
