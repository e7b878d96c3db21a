"""The table of named checks. Each module of this package registers its checks with
``@check``; a check turns evidence gathered by probes into an Outcome."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import Status

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def passed(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.PASS, message, evidence)


def failed(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.FAIL, message, evidence)


def errored(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.ERROR, message, evidence)


def not_applicable(message: str, **evidence: Any) -> Outcome:
    return Outcome(Status.SKIP, message, evidence)


def runtime_absent(what: str, malformed: dict[str, str]) -> Outcome:
    """No runtime of a kind in the target: not applicable, unless objects named like one could
    not be read (then they may be one: an error)."""
    if malformed:
        return errored(f"objects that may be {what} could not be read", malformed=malformed)
    return not_applicable(f"no {what}")


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
