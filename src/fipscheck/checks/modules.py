"""``modules.validated``: "FIPS mode is on" is not "a validated module is in use". Every FIPS
crypto module the target uses (OpenSSL FIPS provider, Go Cryptographic Module, BoringCrypto,
wolfCrypt FIPS) is looked up in the CMVP data file; the policy decides whether a version
without a known, active certificate is a failure or a warning (``unvalidated``), and may ask
for minimum versions.

The modules are listed in the evidence under ``modules`` (kind, name, version, path, FIPS
mode, certificate): the CycloneDX report builds its cryptographic assets from every check's
``modules`` evidence, so a check of another runtime adds its modules the same way."""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import cmvp
from ..errors import NotApplicableError
from ..model import Finding, Status
from ..probes.linkage import libcrypto_copies
from ..probes.native import native_report
from . import Outcome, check, not_applicable, passed
from .go import go_verdicts

if TYPE_CHECKING:
    from ..runner import ScanContext


@dataclass(frozen=True)
class CryptoModule:
    kind: str  # a cmvp.toml kind, or openssl-libcrypto / go-plain-crypto for the inventory only
    name: str
    version: str | None
    path: str | None
    fips_mode: bool | None  # None: not known (nothing could run)
    fips_module: bool  # claims to be a FIPS module: judged against the CMVP data
    found_by: str
    certificate: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _static_modules(ctx: ScanContext) -> list[CryptoModule]:
    found = []
    for copy in ctx.evidence(libcrypto_copies):
        found.append(CryptoModule("openssl-libcrypto", "OpenSSL libcrypto", copy.version, copy.path,
                                  None, False, "libcrypto banner (linkage.libcrypto)"))
        if copy.fips_module:
            found.append(CryptoModule("openssl-fips-provider", "OpenSSL FIPS Provider",
                                      copy.fips_module_version, copy.fips_module, None, True,
                                      f"fips.so in the provider directory of {copy.path}"))
    for binary, verdict in go_verdicts(ctx):
        mode = verdict.ok is True
        if verdict.kind == "go-fips140" and binary.info.settings.get("GOFIPS140", "off") != "off":
            found.append(CryptoModule("go-cryptographic-module", "Go Cryptographic Module",
                                      binary.info.settings["GOFIPS140"], binary.path, mode, True,
                                      "Go build info (GOFIPS140)"))
        elif verdict.kind == "boringcrypto":
            found.append(CryptoModule("boringcrypto", "BoringCrypto (Go)", None, binary.path, mode, True,
                                      "Go build info (GOEXPERIMENT=boringcrypto); the BoringSSL "
                                      "FIPS tag is not recorded in the binary"))
        elif verdict.kind in ("plain", "go-fips140"):
            found.append(CryptoModule("go-plain-crypto", "Go standard library crypto",
                                      binary.info.go_version, binary.path, False, False,
                                      "Go build info"))
    return found


def _runtime_modules(ctx: ScanContext, static: list[CryptoModule]) -> list[CryptoModule]:
    """The providers and wolfSSL as a process in the target loads them; a FIPS provider found
    statically too gets the name it reports and its FIPS mode."""
    report = ctx.evidence(native_report)
    if "unavailable" in report:
        return []
    fips_on = bool(report.get("fips_mode", {}).get("enabled"))
    found = []
    for provider in report.get("providers", []):
        if not provider.get("fips"):
            continue
        active = provider.get("status") == 1
        same = next((i for i, m in enumerate(static) if m.kind == "openssl-fips-provider"
                     and m.version == provider.get("version")), None)
        if same is not None:
            static[same] = replace(static[same], name=provider.get("name") or static[same].name,
                                   fips_mode=fips_on and active)
            continue
        found.append(CryptoModule("openssl-fips-provider", provider.get("name") or "FIPS provider",
                                  provider.get("version"), None, fips_on and active, True,
                                  "the native checker's provider list"))
    wolf = report.get("wolfssl") or {}
    if wolf.get("fips_build"):
        found.append(CryptoModule("wolfcrypt", "wolfCrypt FIPS", wolf.get("fips_version"),
                                  wolf.get("path"), wolf.get("fips_status") == 0, True,
                                  "the native checker (wolfCrypt_GetStatus_fips)"))
    return found


def crypto_modules(ctx: ScanContext) -> list[CryptoModule]:
    """Every crypto module found in the target, FIPS modules with their certificate."""
    modules = _static_modules(ctx)
    if ctx.target.can_run and _runnable(ctx):
        modules += _runtime_modules(ctx, modules)
    return [replace(m, certificate=_certificate(m)) if m.fips_module else m for m in modules]


def _runnable(ctx: ScanContext) -> bool:
    """Whether the target's programs can run where fipscheck runs them (an arm64 image in an
    x86-64 engine cannot): else its modules are known from its files alone."""
    from ..probes.platform import runtime_platform  # not on `import fipscheck`

    try:
        ctx.evidence(runtime_platform).require_runnable()
    except NotApplicableError:
        return False
    return True


def _certificate(module: CryptoModule) -> dict[str, Any]:
    row = cmvp.lookup(module.kind, module.name, module.version)
    return {**(row.to_dict() if row else {"certificate": None, "status": None}),
            "text": cmvp.certificate_text(row),
            "validated": cmvp.validated(row, datetime.date.today())}


def _label(module: CryptoModule, *, path: bool = True) -> str:
    where = f" at {module.path}" if module.path and path else ""
    return f"{module.name} {module.version or '(version unknown)'}{where}"


@check("modules.validated", "Every FIPS crypto module in use is a version with a known, active "
       "CMVP certificate, and at least the policy's minimum version")
def modules_validated(ctx: ScanContext) -> Outcome:
    modules = crypto_modules(ctx)
    evidence: dict[str, Any] = {"modules": [m.to_dict() for m in modules], "cmvp_data": cmvp.data_version(),
                                "unvalidated_is": ctx.policy.unvalidated,
                                "decided_by": ctx.policy.origin("unvalidated")}
    if not ctx.target.can_run:
        evidence["runtime"] = f"not inspected: a {ctx.target.kind} target cannot run the native checker"
    fips = [m for m in modules if m.fips_module]
    if not fips:
        return not_applicable("no FIPS crypto module found to look up", **evidence)
    too_old, unvalidated = [], []
    for module in fips:
        minimum = ctx.policy.minimum_versions.get(module.kind)
        name = _label(module, path=False)
        if minimum and (module.version is None or _version_key(module.version) < _version_key(minimum)):
            too_old.append(Finding(f"{name} is below the policy's minimum version {minimum}", module.path))
        if module.certificate and not module.certificate["validated"]:
            mode = "FIPS mode on" if module.fips_mode else (
                "FIPS mode unknown" if module.fips_mode is None else "FIPS mode off")
            unvalidated.append(Finding(f"{name}: {mode}, but {module.certificate['text']}", module.path))
    listed = "; ".join(f"{_label(m)}: {m.certificate['text']}" for m in fips if m.certificate)
    if too_old or (unvalidated and ctx.policy.unvalidated == "fail"):
        findings = too_old + (unvalidated if ctx.policy.unvalidated == "fail" else [])
        return Outcome(Status.FAIL, "; ".join(f.message for f in findings), evidence, tuple(findings))
    if unvalidated:
        return Outcome(Status.WARN, "not a validated module: " + "; ".join(f.message for f in unvalidated),
                       evidence, tuple(unvalidated))
    return passed(f"validated modules in use: {listed}", **evidence)
