"""OpenSSL as a process in the target sees it at run time (the native checker's report):
FIPS mode, the FIPS provider, the module's integrity self-test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Status
from ..probes.native import native_outcome
from . import Outcome, check, failed

if TYPE_CHECKING:
    from ..runner import ScanContext


@check("openssl.fips-mode", "OpenSSL's default properties ask for fips=yes and a FIPS provider "
       "serves a default SHA2-256 fetch", needs_runtime=True)
def fips_mode(ctx: ScanContext) -> Outcome:
    return native_outcome(ctx, "openssl.fips-mode", lambda report: {
        "fips_mode": report["fips_mode"], "default_sha256": report["default_sha256"]})


@check("openssl.fips-provider", "A FIPS provider is loaded and active (and every provider the "
       "policy requires)", needs_runtime=True)
def fips_provider(ctx: ScanContext) -> Outcome:
    outcome = native_outcome(ctx, "openssl.fips-provider", lambda report: {
        "providers": report["providers"], "config_file": report["libcrypto"]["config_file"]})
    required = ctx.policy.required_providers
    if not required or outcome.status is not Status.PASS:
        return outcome
    active = {name for p in outcome.evidence["providers"] if p.get("status") == 1
              for name in (p.get("configured_name"), p.get("name")) if name}
    missing = [name for name in required if name not in active]
    if missing:
        return failed(f"required by the policy but not active: {', '.join(missing)}; active: "
                      f"{', '.join(sorted(active)) or 'none'}", **outcome.evidence,
                      required_providers=list(required))
    return Outcome(outcome.status, f"{outcome.message}; required providers active: {', '.join(required)}",
                   {**outcome.evidence, "required_providers": list(required)})


@check("openssl.module-integrity", "The FIPS module passed its integrity self-test",
       needs_runtime=True)
def module_integrity(ctx: ScanContext) -> Outcome:
    return native_outcome(ctx, "openssl.module-integrity", lambda report: {
        "self_tests": report["self_tests"], "modules_dir": report["libcrypto"]["modules_dir"]})
