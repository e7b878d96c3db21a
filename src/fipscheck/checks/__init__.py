"""The table of named checks. Each module of this package registers its checks with
``@check``; a check turns evidence gathered by probes into an Outcome.

``INDEX`` names the module of every check, so that selecting a few checks imports only
their modules (``fipscheck.status()`` needs the process checks, not the static ones and their
probes). A new check module is listed there: tests/test_checks_index.py fails until it is.
An unlisted check still runs (all modules are imported to find it), only not lazily."""

from __future__ import annotations

import importlib
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
    # False: a pass shows only that something is absent (or that files exist), not a FIPS
    # module at work; a report with no other pass is "nothing verified" (model.Report).
    affirmative: bool = True


_REGISTRY: dict[str, Check] = {}


def check(
        check_id: str, title: str, *, needs_runtime: bool = False, affirmative: bool = True,
) -> Callable[[Callable[[ScanContext], Outcome]], Callable[[ScanContext], Outcome]]:
    def register(func: Callable[[ScanContext], Outcome]) -> Callable[[ScanContext], Outcome]:
        if check_id in _REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        _REGISTRY[check_id] = Check(check_id, title, func, needs_runtime, affirmative)
        return func
    return register


# check ID -> the module of this package that defines it
INDEX = {
    "algorithms.approved": "algorithms",
    "algorithms.non-approved": "algorithms",
    "go.fips-toolchain": "go",
    "java.fips": "java",
    "kernel.fips": "kernel",
    "libraries.banned": "libraries",
    "linkage.libcrypto": "linkage",
    "modules.validated": "modules",
    "node.fips": "node",
    "nss.fips": "nss",
    "openssl.config": "openssl_config",
    "openssl.fips-mode": "openssl_runtime",
    "openssl.fips-provider": "openssl_runtime",
    "openssl.module-integrity": "openssl_runtime",
    "python.hashlib": "python",
    "python.ssl": "python",
    "tools.required": "tools",
    "wolfssl.fips": "wolfssl",
}


def all_checks() -> list[Check]:
    """Every built-in check, ordered by ID."""
    import pkgutil  # here: a selection of indexed checks (fipscheck.status()) needs no listing

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda c: c.id)


def checks_named(ids: Iterable[str]) -> list[Check]:
    """The checks with these IDs, ordered by ID, importing only their modules (all of them
    when one is not in INDEX); raises ValueError naming unknown IDs."""
    wanted = set(ids)
    for module in sorted({INDEX[i] for i in wanted if i in INDEX}):
        importlib.import_module(f"{__name__}.{module}")
    if not wanted <= _REGISTRY.keys():
        all_checks()
    unknown = wanted - _REGISTRY.keys()
    if unknown:
        raise ValueError(unknown_ids_message(unknown))
    return sorted((_REGISTRY[i] for i in wanted), key=lambda c: c.id)


def closest_ids(wrong: str, known: Iterable[str] | None = None) -> list[str]:
    """Check IDs that look like ``wrong`` (a typo's likely meaning), best first."""
    import difflib  # here: only a wrong ID needs it (fipscheck.status() imports less)

    ids = list(known) if known is not None else [c.id for c in all_checks()]
    return difflib.get_close_matches(wrong, ids, n=3, cutoff=0.5)


def unknown_ids_message(unknown: Iterable[str], known: Iterable[str] | None = None) -> str:
    """``unknown check ID(s): x (did you mean y?)``, for the CLI, the plugin and the policy."""
    parts = []
    for wrong in sorted(unknown):
        close = closest_ids(wrong, known)
        parts.append(f"{wrong} (did you mean {' or '.join(close)}?)" if close else wrong)
    return f"unknown check ID(s): {', '.join(parts)}; `fipscheck checks` lists them"
