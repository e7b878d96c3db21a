"""The current process's answer: ``status()`` and ``require()``, for applications that check
themselves at start-up, and the ``status``/``preflight`` commands built on them."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import NotCompliantError
from .model import CheckResult, Report, Status
from .policy import Policy
from .runner import scan
from .targets.process import ProcessTarget

# The checks that can look at this very process: OpenSSL and wolfSSL as the native checker
# sees them through the libcrypto this process loaded, and what Python code here gets.
PROCESS_CHECKS = ("openssl.fips-mode", "openssl.fips-provider", "openssl.module-integrity",
                  "algorithms.approved", "algorithms.non-approved", "wolfssl.fips",
                  "python.hashlib", "python.ssl")


def status(policy: Policy | None = None) -> Report:
    """Report on the current process: the libcrypto its ``_hashlib``/``_ssl`` loaded (its
    FIPS mode, providers, self-tests and algorithm results, from the cffi-bound native
    checker) and what Python code here really gets from hashlib, ssl and cryptography.
    Changes nothing in the process's OpenSSL state."""
    with ProcessTarget() as target:
        return scan(target, policy, PROCESS_CHECKS)


def require(checks: Iterable[str] | None = None, *, policy: Policy | None = None) -> Report:
    """Return the report when compliant, else raise NotCompliantError listing what failed.

    ``checks`` names the checks that must pass (each must pass: a skip proves nothing);
    by default none may fail or error, and at least one must pass."""
    report = status(policy)
    if checks is None:
        failed = report.failed()
        if not failed and report.nothing_verified:
            failed = [CheckResult("fipscheck", Status.ERROR, report.nothing_verified)]
    else:
        wanted = set(checks)
        unknown = wanted - {r.id for r in report.checks}
        if unknown:
            raise ValueError(f"not a check of the process: {', '.join(sorted(unknown))} "
                             f"(choose from {', '.join(PROCESS_CHECKS)})")
        failed = [r for r in report.checks if r.id in wanted and r.status is not Status.PASS]
    if failed:
        raise NotCompliantError(report, failed)
    return report
