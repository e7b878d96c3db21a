"""``java.fips``: every Java runtime puts a FIPS provider first and keeps no non-FIPS crypto.

A JRE's own providers (SUN, SunRsaSign, SunEC, SunJCE) are Java's own crypto, outside any
FIPS module. A runtime passes when its first provider is a FIPS one (SunPKCS11 over NSS's
FIPS module, ``nssModule = fips``; BouncyCastle FIPS in approved-only mode), no provider
with non-FIPS crypto remains in its list, and no plain BouncyCastle jar is on the class
path. Its own ``java``, where it can run, must list no non-FIPS provider either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..probes.java import JavaOptions, JavaRuntime, JavaRuntimes, java_runtimes
from . import Outcome, check, errored, failed, passed, runtime_absent

if TYPE_CHECKING:
    from ..runner import ScanContext

# Providers with crypto of their own that is not a FIPS module (names and class names).
NON_FIPS = frozenset({
    "SUN", "SunRsaSign", "SunEC", "SunJCE", "SunMSCAPI", "Apple", "BC",
    "sun.security.provider.Sun", "sun.security.rsa.SunRsaSign", "sun.security.ec.SunEC",
    "com.sun.crypto.provider.SunJCE", "org.bouncycastle.jce.provider.BouncyCastleProvider",
})
# Providers that implement protocols and services on top of the others' primitives.
NO_CRYPTO_OF_THEIR_OWN = frozenset({
    "SunJSSE", "SunJGSS", "SunSASL", "XMLDSig", "SunPCSC", "JdkLDAP", "JdkSASL", "BCJSSE",
    "com.sun.net.ssl.internal.ssl.Provider", "sun.security.ssl.SunJSSE",
    "org.bouncycastle.jsse.provider.BouncyCastleJsseProvider",
})
PKCS11 = ("SunPKCS11", "sun.security.pkcs11.SunPKCS11")
BC_FIPS = ("BCFIPS", "org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider")
APPROVED_ONLY = "org.bouncycastle.fips.approved_only"


def classify(runtime: JavaRuntime, options: JavaOptions, name: str, argument: str | None) -> str:
    """fips, not-fips, no-crypto (protocols over the others) or why it is neither."""
    if name in PKCS11:
        if argument is None:
            return "no-crypto"  # SunPKCS11 unconfigured: it provides nothing
        config = runtime.pkcs11_configs.get(argument, {})
        if config.get("nssModule", "").lower() == "fips":
            return "fips"
        return f"PKCS #11 token not known to be FIPS ({config.get('library') or argument})"
    if name in BC_FIPS:
        if options.properties.get(APPROVED_ONLY, "").lower() == "true":
            return "fips"
        return f"BouncyCastle FIPS without -D{APPROVED_ONLY}=true (non-approved algorithms allowed)"
    if name in NON_FIPS:
        return "not-fips"
    if name in NO_CRYPTO_OF_THEIR_OWN:
        return "no-crypto"
    return "not known to be a FIPS provider"


def judge(runtime: JavaRuntime, found: JavaRuntimes) -> tuple[list[str], list[dict[str, str]]]:
    options = found.options
    assert options is not None
    rows = [{"provider": name, "argument": arg or "", "kind": classify(runtime, options, name, arg)}
            for name, arg in runtime.providers]
    problems = []
    if not rows or rows[0]["kind"] != "fips":
        first = f"{rows[0]['provider']} ({rows[0]['kind']})" if rows else "none"
        problems.append(f"the first provider is not a FIPS provider: {first}")
    others = [r["provider"] for r in rows[1:] if r["kind"] not in ("fips", "no-crypto")]
    if others:
        problems.append(f"providers with non-FIPS crypto remain: {', '.join(others)}")
    bcprov = [f"{jar}: {', '.join(k for k in kinds if 'not FIPS' in k)}"
              for jar, kinds in found.jars.items()
              if jar in found.class_path_jars and any("not FIPS" in k for k in kinds)]
    if bcprov:
        problems.append(f"non-FIPS BouncyCastle on the class path: {'; '.join(bcprov)}")
    run = runtime.run
    if run and "skipped" not in run:
        if run["exit_code"] != 0 or not run["providers"]:
            problems.append(f"its java does not list its providers (exit {run['exit_code']})")
        elif listed := [p for p in run["providers"] if p in NON_FIPS]:
            problems.append(f"its java lists non-FIPS providers: {', '.join(listed)}")
    return problems, rows


@check("java.fips", "Every Java runtime has a FIPS provider first, no provider with non-FIPS "
       "crypto and no plain BouncyCastle on the class path")
def java_fips(ctx: ScanContext) -> Outcome:
    found = ctx.evidence(java_runtimes)
    if not found.runtimes:
        return runtime_absent("Java runtime (libjvm.so defining JNI_CreateJavaVM)", found.malformed)
    assert found.options is not None
    evidence: dict[str, Any] = {"jvm_options": found.options.sources,
                                "system_properties": found.options.properties,
                                "class_path": found.options.class_path,
                                "bouncycastle_jars": found.jars, "runtimes": []}
    problems = []
    for runtime in found.runtimes:
        reasons, rows = judge(runtime, found)
        evidence["runtimes"].append({
            "home": runtime.home, "version": runtime.version, "libjvm": runtime.libjvm,
            "security_files": runtime.security_files, "providers": rows,
            "distribution_fips_properties": runtime.properties, "run": runtime.run,
            "reasons": reasons})
        if reasons:
            problems.append(f"{runtime.home} (Java {runtime.version or '?'}): {'; '.join(reasons)}")
    if problems:
        return failed("; ".join(problems), **evidence)
    if found.malformed:
        return errored("some Java files could not be read", malformed=found.malformed, **evidence)
    firsts = ", ".join(f"{r.home}: {r.providers[0][0]}" for r in found.runtimes)
    return passed(f"FIPS provider first and no non-FIPS crypto provider ({firsts})", **evidence)
