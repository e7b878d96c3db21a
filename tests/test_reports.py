"""Every output format: the JSON report against its published schema, SARIF 2.1.0 and
CycloneDX 1.6 against their official schemas (tests/schemas/), on every reference image;
output a hostile file name cannot forge; JUnit from the CLI equal to the plugin's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from fipscheck.model import CheckResult, Report, Status
from fipscheck.renderers import FORMATS, render
from fipscheck.renderers.cyclonedx import to_cyclonedx_document
from fipscheck.renderers.sarif import to_sarif_document
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget
from fipscheck.tomlcompat import tomllib

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
SCHEMAS = Path(__file__).parent / "schemas"
REAL_LIBRARY = "/usr/lib/x86_64-linux-gnu/libz.so.1"
DOCKERFILES = Path(__file__).parent.parent / "dockerfiles"
REFERENCE_IMAGES = sorted(name for spec in (tomllib.loads(toml.read_text())
                                             for toml in DOCKERFILES.glob("*/images.toml"))
                          if not spec.get("builder") for name in spec["images"])


def fipscheck(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FIPSCHECK, *args], capture_output=True, timeout=600,
                          env={**os.environ, **(env or {})})


def validator(name: str, base: str | None = None):
    schema = json.loads((SCHEMAS / name).read_text())
    registry = Registry()
    for extra in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"):
        contents = json.loads((SCHEMAS / extra).read_text())
        resource = Resource.from_contents(contents, DRAFT7)
        registry = registry.with_resource(f"http://cyclonedx.org/schema/{extra}", resource)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def report_validator():
    schema = json.loads(resources.files("fipscheck").joinpath("schemas/report.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def reference_reports(image):
    """Every reference image scanned once (all checks), for the schema tests."""
    reports = {}
    for name in REFERENCE_IMAGES:
        with ImageTarget(image(name)) as target:
            reports[name] = scan(target)
    return reports


def test_every_reference_image_report_is_valid_json_sarif_and_cyclonedx(reference_reports):
    assert len(reference_reports) >= 15
    own, sarif, cdx = report_validator(), validator("sarif-2.1.0.json"), validator("bom-1.6.schema.json")
    for name, report in reference_reports.items():
        document = json.loads(render(report, "json"))
        own.validate(document)
        sarif.validate(json.loads(render(report, "sarif")))
        cdx.validate(json.loads(render(report, "cyclonedx")))
        ET.fromstring(render(report, "junit"))
        assert render(report, "markdown").startswith("## ")
        assert document["target"]["name"] == name


def test_cbom_lists_the_modules_with_fips_mode_and_certificate(reference_reports):
    bom = to_cyclonedx_document(reference_reports["fipscheck/openssl-fips:latest"])
    provider = next(c for c in bom["components"] if c["name"] == "OpenSSL FIPS Provider")
    assert provider["type"] == "cryptographic-asset" and provider["version"].startswith("3.5.")
    assert provider["evidence"]["occurrences"][0]["location"].endswith("/ossl-modules/fips.so")
    props = {p["name"]: p["value"] for p in provider["properties"]}
    assert props["fipscheck:fips-mode"] == "on"
    assert props["fipscheck:cmvp"] == "no certificate known for this version"
    assert provider["cryptoProperties"]["algorithmProperties"]["certificationLevel"] == ["none"]
    go = to_cyclonedx_document(reference_reports["fipscheck/go-variants:latest"])
    module = next(c for c in go["components"] if c["name"] == "Go Cryptographic Module")
    assert {p["name"]: p["value"] for p in module["properties"]}["fipscheck:cmvp-certificate"] == "5247"
    gnutls = to_cyclonedx_document(reference_reports["fipscheck/openssl-fips-gnutls:latest"])
    assert {"gnutls", "nettle", "hogweed"} <= {c["name"] for c in gnutls["components"]}


def test_sarif_has_one_rule_per_check_and_a_located_result_per_finding(reference_reports):
    document = to_sarif_document(reference_reports["fipscheck/openssl-fips-gnutls:latest"])
    run = document["runs"][0]
    assert len({r["id"] for r in run["tool"]["driver"]["rules"]}) == len(run["tool"]["driver"]["rules"])
    banned = [r for r in run["results"] if r["ruleId"] == "libraries.banned"]
    assert len(banned) == 3 and all(r["level"] == "error" and r["kind"] == "fail" for r in banned)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in banned}
    assert "/usr/lib/x86_64-linux-gnu/libgnutls.so.30.40.3" in uris


FORGED = "evil\n\x1b[2K\x1b[32mverdict: PASS\x1b[0m\u202e"


@pytest.fixture
def hostile_root(tmp_path):
    """A root whose banned library sits in a directory named to forge a verdict, and one whose
    name is not UTF-8."""
    root = tmp_path / "root"
    forged = root / "opt" / FORGED
    forged.mkdir(parents=True)
    shutil.copy(REAL_LIBRARY, forged / "libgnutls.so.30")
    raw = os.path.join(os.fsencode(root / "opt"), b"\xff\xfe-bytes")
    os.makedirs(raw)
    shutil.copy(REAL_LIBRARY, os.path.join(raw, b"libnettle.so.8"))
    return root


def test_a_hostile_name_cannot_forge_the_text_verdict(hostile_root):
    done = fipscheck("scan", "--rootfs", str(hostile_root), "--check", "libraries.banned",
                     env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 1
    text = done.stdout.decode("utf-8")  # strict: every byte of the report is UTF-8
    lines = text.splitlines()
    assert lines[0].startswith("fipscheck: FAIL") and lines[-1].startswith("verdict: FAIL")
    assert "\x1b" not in text and "\u202e" not in text
    assert not any(line.lstrip().startswith("verdict: PASS") for line in lines)
    assert "/opt/evil\\n\\x1b[2K\\x1b[32mverdict: PASS\\x1b[0m\\u202e/libgnutls.so.30" in text
    assert "/opt/\\xff\\xfe-bytes/libnettle.so.8" in text


def test_a_hostile_name_stays_strict_utf8_in_every_format(hostile_root, tmp_path):
    outputs = {f: tmp_path / f"report.{f}" for f in FORMATS}
    done = fipscheck("scan", "--rootfs", str(hostile_root), "--check", "libraries.banned",
                     *[arg for f, path in outputs.items() for arg in ("--format", f"{f}={path}")],
                     env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 1, done.stderr
    contents = {f: path.read_bytes().decode("utf-8") for f, path in outputs.items()}
    report = json.loads(contents["json"])
    paths = {f["path"] for f in report["checks"][0]["findings"]}
    assert f"/opt/{FORGED}/libgnutls.so.30" in paths  # the name itself, exactly, in JSON
    assert "/opt/\\xff\\xfe-bytes/libnettle.so.8" in paths  # one documented encoding
    sarif = json.loads(contents["sarif"])
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"] if "locations" in r}
    assert "/opt/%FF%FE-bytes/libnettle.so.8" in uris  # the original bytes
    junit = ET.fromstring(contents["junit"])
    failure = junit.find(".//failure")
    assert "\n" not in failure.get("message") and "\x1b" not in contents["junit"]
    table = [line for line in contents["markdown"].splitlines() if line.startswith("| libraries.banned")]
    assert len(table) == 1 and "\x1b" not in contents["markdown"]


def test_junit_from_the_cli_equals_the_plugins(pytester, hostile_root, tmp_path):
    broken = hostile_root / "usr" / "lib"
    broken.mkdir(parents=True)
    (broken / "libcrypto.so.3").write_bytes(b"\x7fELF" + b"\0" * 12)  # an ELF that cannot be read
    cli_xml = tmp_path / "cli.xml"
    done = fipscheck("scan", "--rootfs", str(hostile_root), "--format", f"junit={cli_xml}")
    assert done.returncode == 1, done.stderr
    plugin_xml = pytester.path / "plugin.xml"
    pytester.runpytest_subprocess(f"--fips-rootfs={hostile_root}", f"--junitxml={plugin_xml}")
    cli, plugin = normalized(cli_xml), normalized(plugin_xml)
    assert cli == plugin
    assert 'classname="rootfs:' in cli and "None" not in cli and "<error" in cli and "<failure" in cli
    for case in ET.fromstring(cli).iter("testcase"):
        for child in case:
            assert "\n" not in child.get("message", "")


def normalized(path: Path) -> str:
    """The XML without what differs between any two runs: times, timestamp, host, suite name."""
    tree = ET.fromstring(path.read_text(encoding="utf-8"))
    for element in tree.iter():
        suite = element.tag.startswith("testsuite")
        for volatile in ("time", "timestamp", "hostname", "name") if suite else ("time",):
            element.attrib.pop(volatile, None)
    return ET.tostring(tree, encoding="unicode")


def test_junit_properties_follow_the_junit_family(pytester, hostile_root):
    for family, expected in (("xunit1", True), ("xunit2", False)):
        out = pytester.path / f"{family}.xml"
        pytester.runpytest_subprocess(f"--fips-rootfs={hostile_root}", f"--junitxml={out}",
                                      "-o", f"junit_family={family}", "-k", "banned")
        assert ('name="fips_check"' in out.read_text()) is expected


def test_fail_on_and_report_only_steps(tmp_path):
    results = (CheckResult("a.b", Status.PASS, ""), CheckResult("c.d", Status.WARN, ""))
    warn = Report({"kind": "rootfs", "name": "x"}, results)
    assert [warn.exit_code_for(f) for f in ("fail", "warn", "error", "never")] == [0, 1, 0, 0]
    failed = Report({}, (*results, CheckResult("e.f", Status.FAIL, ""), CheckResult("g.h", Status.ERROR, "")))
    assert [failed.exit_code_for(f) for f in ("fail", "warn", "error", "never")] == [1, 1, 2, 0]
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    shutil.copy(REAL_LIBRARY, root / "usr/lib/libgnutls.so.30")
    assert fipscheck("scan", "--rootfs", str(root), "--check", "libraries.banned").returncode == 1
    assert fipscheck("scan", "--rootfs", str(root), "--check", "libraries.banned",
                     "--fail-on", "never").returncode == 0


def test_checks_listing_and_the_closest_id():
    listed = fipscheck("checks")
    assert listed.returncode == 0 and b"libraries.banned " in listed.stdout
    done = fipscheck("scan", "--rootfs", "/nonexistent", "--check", "libraries.banend")
    assert done.returncode == 2 and b"libraries.banend (did you mean libraries.banned?)" in done.stderr


def test_several_formats_from_one_scan_and_json_errors(tmp_path):
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy(REAL_LIBRARY, root / "usr/bin/tool")
    done = fipscheck("scan", "--rootfs", str(root), "--format", "markdown", "--output",
                     str(tmp_path / "s.md"), "--format", f"sarif={tmp_path / 's.sarif'}",
                     "--check", "libraries.banned")
    assert done.returncode == 0 and done.stdout == b""
    assert (tmp_path / "s.md").read_text().startswith("## ✅ fipscheck: PASS")
    assert json.loads((tmp_path / "s.sarif").read_text())["version"] == "2.1.0"
    error = fipscheck("scan", "--rootfs", str(tmp_path / "missing"), "--format", "json")
    assert error.returncode == 2
    assert json.loads(error.stdout) | {"error": ""} == {"schema_version": 1, "verdict": "error", "error": "",
                                                        "tool": {"name": "fipscheck", "version": "0.1.0"}}
