"""``nss.fips``: Mozilla NSS, when present, is in FIPS mode and a validated module.

fipscheck knows of no NSS build it could recognise as a CMVP-validated module (validation
belongs to vendors' builds, not to NSS's source), so an NSS in FIPS mode is reported as
"FIPS mode on, not a validated module" and fails; without FIPS mode it fails for that first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..probes.nss import NSS_FIPS_TRUE, NssInstall, nss_install
from . import Outcome, check, errored, failed, runtime_absent

if TYPE_CHECKING:
    from ..runner import ScanContext


def fips_mode(found: NssInstall) -> tuple[bool | None, list[str]]:
    """Whether NSS runs in FIPS mode in this target (None: cannot tell), and why."""
    why = []
    if found.nss_fips_env and found.nss_fips_env[0] in NSS_FIPS_TRUE:
        why.append(f"NSS_FIPS={found.nss_fips_env} in the environment")
    if found.kernel_fips == "1":
        why.append("the kernel is in FIPS mode (fips_enabled=1)")
    if why:
        return True, why
    if not found.databases:
        return False, ["no NSS database in FIPS mode and no NSS_FIPS: NSS starts in its default "
                       "(non-FIPS) mode"]
    unknown = [d.path for d in found.databases if d.fips is None]
    off = [d.path for d in found.databases if d.fips is False]
    if off:
        return False, [f"the softoken is not in FIPS mode in {', '.join(off)}"]
    if unknown:
        return None, [f"legacy databases not read: {', '.join(unknown)}"]
    return True, [f"FIPS flag on the softoken in {', '.join(d.path for d in found.databases)}"]


@check("nss.fips", "Mozilla NSS, when present, runs in FIPS mode as a validated module")
def nss_fips(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(nss_install)
    evidence: dict[str, Any] = {
        "softoken": found.softoken, "freebl": found.freebl, "versions": found.versions,
        "databases": [d.to_dict() for d in found.databases],
        "NSS_FIPS": found.nss_fips_env, "kernel_fips_enabled": found.kernel_fips}
    if found.malformed:
        evidence["malformed"] = found.malformed
    if not found.softoken:
        return runtime_absent("NSS softoken (libsoftokn3.so defining FC_GetFunctionList)",
                              found.malformed)
    versions = ", ".join(sorted({f"NSS {v}" for v in found.versions.values() if v})) or "NSS"
    mode, why = fips_mode(found)
    evidence["fips_mode"] = {"on": mode, "why": why}
    if mode is None:
        return errored(f"{versions}: cannot tell whether it runs in FIPS mode: {'; '.join(why)}",
                       **evidence)
    if not mode:
        return failed(f"{versions} is present with FIPS mode off: {'; '.join(why)}", **evidence)
    return failed(f"{versions}: FIPS mode on, not a validated module ({'; '.join(why)}); "
                  "fipscheck recognises no validated NSS build", **evidence)
