"""A CycloneDX 1.6 CBOM: every crypto module the scan found, as a ``cryptographic-asset``
component with its version, path (as an evidence occurrence), FIPS mode and CMVP certificate.

Built generically from the report: every check's evidence list ``modules`` (``kind``,
``name``, ``version``, ``path``, ``fips_mode``, ``certificate``, as ``modules.validated``
writes it) and the libraries ``libraries.banned`` found (bundled copies, banned families), so
a new check that lists ``modules`` in its evidence appears here without changes."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from .. import __version__
from ..model import Report
from .escape import json_text

_FIPS_MODE: dict[object, str] = {True: "on", False: "off"}  # a module's fips_mode, as a property


def _certification(certificate: dict[str, Any] | None) -> list[str]:
    if not certificate or not certificate.get("validated"):
        return ["none"] if certificate else ["unknown"]
    return [f"fips140-{certificate['standard'].rsplit('-', 1)[-1]}-l1"]


def _modules(report: Report) -> list[dict[str, Any]]:
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for result in report.checks:
        for module in result.evidence.get("modules") or []:
            if isinstance(module, dict) and module.get("name"):
                key = (module.get("kind"), module.get("name"), module.get("version"), module.get("path"))
                found.setdefault(key, {**module, "check": result.id})
        if result.id == "libraries.banned":
            for library in result.evidence.get("found") or []:
                key = ("banned", library.get("family"), None, library.get("path"))
                found.setdefault(key, {"kind": f"banned:{library.get('family')}",
                                       "name": library.get("family"), "version": None,
                                       "path": library.get("path"), "fips_mode": False,
                                       "certificate": None, "check": result.id,
                                       "found_by": library.get("reason")})
    return list(found.values())


def _component(module: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(repr(sorted(module.items())).encode("utf-8", "surrogateescape")).hexdigest()
    certificate = module.get("certificate") or {}
    properties = {"fipscheck:kind": module.get("kind"), "fipscheck:check": module.get("check"),
                  "fipscheck:fips-mode": _FIPS_MODE.get(module.get("fips_mode"), "unknown"),
                  "fipscheck:cmvp": certificate.get("text") or "not a FIPS module",
                  "fipscheck:found-by": module.get("found_by")}
    if certificate.get("certificate"):
        properties["fipscheck:cmvp-certificate"] = str(certificate["certificate"])
    component: dict[str, Any] = {
        "type": "cryptographic-asset", "bom-ref": f"module-{digest[:16]}", "name": module["name"],
        "cryptoProperties": {"assetType": "algorithm", "algorithmProperties": {
            "primitive": "other", "executionEnvironment": "software-plain-ram",
            "certificationLevel": _certification(module.get("certificate"))}},
        "properties": [{"name": k, "value": str(v)} for k, v in properties.items() if v is not None],
    }
    if module.get("version"):
        component["version"] = str(module["version"])
    if module.get("path"):
        component["evidence"] = {"occurrences": [{"location": module["path"]}]}
    return component


def to_cyclonedx_document(report: Report) -> dict[str, Any]:
    target = report.target
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {"timestamp": report.created,
                     "tools": {"components": [{"type": "application", "name": "fipscheck",
                                               "version": __version__}]},
                     "component": {"type": "container" if target.get("kind") in ("image", "container")
                                   else "operating-system" if target.get("kind") == "host" else "file",
                                   "bom-ref": "target", "name": str(target.get("name")),
                                   "properties": [{"name": "fipscheck:verdict",
                                                   "value": report.verdict.value}]}},
        "components": [_component(m) for m in _modules(report)],
    }


def to_cyclonedx(report: Report) -> str:
    return json_text(to_cyclonedx_document(report))
