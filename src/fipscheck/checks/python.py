"""``python.hashlib`` and ``python.ssl``: what Python code in the target really gets.

A FIPS-enforcing OpenSSL is not enough for Python: CPython falls back to its builtin
``_md5``, ``_sha1``, ``_sha2``, ``_sha3`` and ``_blake2`` whenever OpenSSL refuses, so
``hashlib.md5()`` keeps working. These checks judge the facts ``python_interpreter`` gathers
in each interpreter of the target (or in this process, for ``fipscheck.status()``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import Finding
from ..policy import Policy
from ..probes.python import PythonRuntime, python_runtimes
from . import Outcome, check, failed, not_applicable, passed

if TYPE_CHECKING:
    from ..runner import ScanContext

# Digests the OpenSSL FIPS provider serves as approved (SHA-1 only where the policy allows it).
APPROVED_DIGESTS = frozenset({
    "sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256",
    "sha3_224", "sha3_256", "sha3_384", "sha3_512", "shake_128", "shake_256",
})
OPENSSL_MODULE = "_hashlib"
CALLS = {"new": "hashlib.new('{name}')", "constructor": "hashlib.{name}()"}

Judge = Callable[[dict[str, Any], Policy], tuple[list[str], dict[str, Any]]]


def approved(name: str, policy: Policy) -> bool:
    return name in APPROVED_DIGESTS or (name == "sha1" and policy.allow_sha1)


def judge_hashlib(facts: dict[str, Any], policy: Policy) -> tuple[list[str], dict[str, Any]]:
    """Problems (empty when compliant) and the evidence for one interpreter."""
    binding = facts["openssl_binding"]
    problems = []
    if not binding["present"]:
        problems.append("hashlib has no OpenSSL binding (_hashlib): every digest is builtin")
    elif binding["fips_mode"] is None:
        problems.append("this Python's _hashlib has no get_fips_mode(): FIPS mode unknown")
    elif not binding["fips_mode"]:
        problems.append(f"_hashlib.get_fips_mode() is {binding['fips_mode']}: "
                        "OpenSSL under hashlib is not in FIPS mode")
    served: dict[str, str] = {}
    for name, ways in facts["hashes"].items():
        modules = {CALLS[way].format(name=name): ways[way]["module"] for way in CALLS
                   if ways.get(way) and ways[way]["served"]}
        served.update(modules)
        builtin = sorted(set(modules.values()) - {OPENSSL_MODULE})
        if builtin:  # CPython's fallback: outside the FIPS module whatever the algorithm
            problems.append(f"{name} served by the builtin {', '.join(builtin)}")
        elif modules and not approved(name, policy):
            problems.append(f"{name} served by OpenSSL although not approved")
    if served.get(CALLS["new"].format(name="sha256")) != OPENSSL_MODULE:
        problems.append("SHA-256 is not served by OpenSSL: hashlib cannot hash with the module")
    not_for_security = {name: ways["not_for_security"].get("module", "refused")
                        for name, ways in facts["hashes"].items() if "not_for_security" in ways}
    return problems, {"fips_mode": binding.get("fips_mode"), "hashlib_binding": binding.get("file"),
                      "served": served, "refused": _refused(facts["hashes"]),
                      "usedforsecurity_false": not_for_security}


def _refused(hashes: dict[str, Any]) -> list[str]:
    return sorted(name for name, ways in hashes.items() if not ways["new"]["served"])


def judge_ssl(facts: dict[str, Any], policy: Policy) -> tuple[list[str], dict[str, Any]]:
    ssl, binding = facts["ssl"], facts["openssl_binding"]
    mapped = facts["mapped"]
    libcrypto = {(m["device"], m["inode"]): m["path"] for m in mapped
                 if os.path.basename(m["path"]).startswith("libcrypto")}
    providers = [m["path"] for m in mapped if os.path.basename(m["path"]) == "fips.so"]
    evidence: dict[str, Any] = {
        "openssl_version": ssl.get("openssl_version"), "ssl_module": ssl.get("file"),
        "tls_client_context": ssl.get("client_context"),
        "hashlib_binding": binding.get("file"), "libcrypto_loaded": sorted(libcrypto.values()),
        "fips_provider_loaded": providers, "mapped": [m["path"] for m in mapped]}
    if "FIPS_mode" in ssl:
        evidence["ssl.FIPS_mode()"] = ssl["FIPS_mode"]
    problems = []
    if len(libcrypto) > 1:
        problems.append(f"{len(libcrypto)} different libcrypto copies are loaded: "
                        + ", ".join(sorted(libcrypto.values())))
    elif not libcrypto:
        problems.append("no libcrypto is loaded although _ssl/_hashlib use OpenSSL: "
                        "it is linked into the extension modules, outside the FIPS provider's reach")
    if not providers:
        problems.append("no FIPS provider module (fips.so) is loaded into the process")
    for provider in providers:
        if libcrypto and os.path.dirname(os.path.dirname(provider)) not in {
                os.path.dirname(path) for path in libcrypto.values()}:
            problems.append(f"the FIPS provider {provider} does not belong to the loaded "
                            f"libcrypto ({', '.join(sorted(libcrypto.values()))})")
    if ssl["present"] and ssl.get("client_context") != "created":
        problems.append(f"ssl cannot create a TLS client context: {ssl.get('client_context')}")
    if ssl.get("FIPS_mode") == 0:
        problems.append("ssl.FIPS_mode() is 0")
    problems += _cryptography_problems(facts["cryptography"], evidence)
    return problems, evidence


def _cryptography_problems(package: dict[str, Any], evidence: dict[str, Any]) -> list[str]:
    if not package["present"]:
        return []
    evidence["cryptography"] = package
    name = f"cryptography {package.get('version') or ''}".rstrip()
    if "error" in package:
        return [f"{name} is installed but cannot be loaded: {package['error']}"]
    if package.get("binding") is None:
        return [f"{name}: no _rust extension found to tell which OpenSSL it uses"]
    problems = []
    if not package["links_libcrypto_so"]:
        bundled = package.get("openssl_banner") or "OpenSSL"
        problems.append(f"{name} carries its own {bundled} in {package['binding']}, "
                        "not the system's libcrypto")
    if package.get("fips_enabled") is False:
        problems.append(f"{name}'s OpenSSL backend does not report FIPS")
    return problems


def _judge_all(ctx: ScanContext, judge: Judge, uses_openssl: Callable[[dict[str, Any]], bool]) -> Outcome:
    found = ctx.evidence(python_runtimes)
    if not found.runtimes:
        return not_applicable("no Python 3 interpreter in the target", searched=found.searched)
    runtimes = [rt for rt in found.runtimes if uses_openssl(rt.facts)]
    if not runtimes:
        return not_applicable("no Python interpreter here uses OpenSSL",
                              interpreters=[rt.interpreter for rt in found.runtimes])
    problems: list[str] = []
    findings: list[Finding] = []
    evidence: dict[str, Any] = {}
    for runtime in runtimes:
        found_problems, evidence[runtime.interpreter] = judge(runtime.facts, ctx.policy)
        evidence[runtime.interpreter]["python"] = _python(runtime)
        if found_problems:
            problems.append(f"{runtime.interpreter}: {'; '.join(found_problems)}")
            findings.append(Finding("; ".join(found_problems), runtime.interpreter))
    if problems:
        return failed("; ".join(problems), interpreters=evidence, problems=problems, findings=findings)
    names = ", ".join(f"{rt.interpreter} ({rt.facts['python']['version']})" for rt in runtimes)
    return passed(f"checked {names}", interpreters=evidence)


def _python(runtime: PythonRuntime) -> dict[str, Any]:
    return {**runtime.facts["python"], "resolved": runtime.resolved}


@check("python.hashlib", "Python's hashlib refuses non-approved digests instead of falling back "
       "to CPython's builtin implementations", needs_runtime=True)
def python_hashlib(ctx: ScanContext) -> Outcome:
    return _judge_all(ctx, judge_hashlib, lambda facts: True)


@check("python.ssl", "Python's _ssl and _hashlib use the one libcrypto that runs the FIPS provider "
       "(and so does the cryptography package, if present)", needs_runtime=True)
def python_ssl(ctx: ScanContext) -> Outcome:
    return _judge_all(ctx, judge_ssl, lambda facts: facts["ssl"]["present"]
                      or facts["openssl_binding"]["present"])
