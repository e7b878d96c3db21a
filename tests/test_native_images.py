"""The shipped fips-startup-check inside real images: it starts on glibc 2.31 to 2.41, gives each
reference image and twin the verdicts and evidence it should, and works as a preflight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fipscheck.native import executable_path
from fipscheck.probes.native import TARGET_PATH
from fipscheck.targets import ImageTarget

RUNTIME_CHECKS = ["openssl.fips-mode", "openssl.fips-provider", "openssl.module-integrity",
                  "algorithms.approved", "algorithms.non-approved", "wolfssl.fips"]
REFERENCE = "fipscheck/openssl-fips:latest"


@pytest.fixture
def container(image, no_leaks):
    """An ImageTarget of a reference image with the shipped checker copied in; closed after."""
    opened = []

    def open_(name: str) -> ImageTarget:
        target = ImageTarget(image(name))
        opened.append(target)
        target.put_file(TARGET_PATH, executable_path().read_bytes())
        return target
    yield open_
    for target in opened:
        target.close()


@pytest.mark.parametrize(("base", "family", "version", "exit_code"), [
    ("fipscheck-base:bullseye", "openssl1", "OpenSSL 1.1.1", 1),
    ("fipscheck-base:bookworm", "none", None, 2),  # minbase bookworm has no libcrypto
    ("fipscheck-base:trixie", "openssl3", "OpenSSL 3.5", 1),
])
def test_runs_on_every_supported_glibc(container, base, family, version, exit_code):
    result = container(base).exec([TARGET_PATH])
    report = json.loads(result.stdout)
    assert result.exit_code == report["exit_code"] == exit_code, result.stderr
    assert report["libcrypto"]["family"] == family
    assert (report["libcrypto"]["version"] or "").startswith(version or "")


EXPECTED = {
    REFERENCE: dict(zip(RUNTIME_CHECKS, ["pass", "pass", "pass", "pass", "pass", "skip"], strict=True)),
    "fipscheck/openssl-fips-not-activated:latest":
        dict(zip(RUNTIME_CHECKS, ["fail", "fail", "skip", "pass", "fail", "skip"], strict=True)),
    "fipscheck/openssl-fips-no-default-properties:latest":
        dict(zip(RUNTIME_CHECKS, ["fail", "pass", "pass", "pass", "fail", "skip"], strict=True)),
    "fipscheck/openssl-fips-tampered:latest":
        dict(zip(RUNTIME_CHECKS, ["fail", "fail", "fail", "fail", "pass", "skip"], strict=True)),
    "fipscheck/wolfssl-oss:latest":
        dict(zip(RUNTIME_CHECKS, ["fail", "skip", "skip", "pass", "fail", "fail"], strict=True)),
    "fipscheck-base:bookworm": dict.fromkeys(RUNTIME_CHECKS, "skip"),
}


@pytest.fixture(scope="module")
def scanned(image_checks):
    """The runtime checks on an image, scanned once and shared by the tests below."""
    return lambda name: image_checks(name, RUNTIME_CHECKS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scan_verdicts(scanned, name):
    assert {i: r.status.value for i, r in scanned(name).items()} == EXPECTED[name]


def test_reference_evidence(scanned):
    checks = scanned(REFERENCE)
    provider = checks["openssl.fips-provider"].evidence["providers"]
    assert {p["configured_name"]: p["name"] for p in provider} == {
        "fips": "OpenSSL FIPS Provider", "base": "OpenSSL Base Provider"}
    assert checks["openssl.fips-mode"].evidence["default_sha256"]["provider"] == "fips"
    assert checks["openssl.fips-mode"].evidence["libcrypto"]["path"] == \
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    events = checks["openssl.module-integrity"].evidence["self_tests"]["events"]
    assert {"phase": "Pass", "type": "Module_Integrity", "desc": "HMAC"} in events
    refused = checks["algorithms.non-approved"].evidence["results"]
    assert all(r["refused"] and r["error"] for r in refused)


def test_tampered_module_is_an_integrity_failure_with_evidence(scanned):
    checks = scanned("fipscheck/openssl-fips-tampered:latest")
    integrity = checks["openssl.module-integrity"]
    assert "Module_Integrity" in integrity.message and "Fail" in integrity.message
    assert {"phase": "Fail", "type": "Module_Integrity", "desc": "HMAC"} in \
        integrity.evidence["self_tests"]["events"]
    sha256 = checks["algorithms.approved"].evidence["results"][0]
    assert not sha256["served"] and "unsupported" in sha256["error"]


def test_no_default_properties_serves_md5_from_the_default_provider(scanned):
    served = [r for r in scanned("fipscheck/openssl-fips-no-default-properties:latest")[
        "algorithms.non-approved"].evidence["results"] if r["served"]]
    assert [(r["algorithm"], r["provider"]) for r in served] == [("MD5", "default")]


def test_open_source_wolfssl_is_not_a_fips_build(scanned):
    result = scanned("fipscheck/wolfssl-oss:latest")["wolfssl.fips"]
    assert result.message.startswith("wolfSSL present, not a FIPS build")
    assert result.evidence["wolfssl"]["path"].startswith("/usr/lib/x86_64-linux-gnu/libwolfssl.so")
    assert result.evidence["wolfssl"]["fips_build"] is False


def test_image_without_libcrypto_skips_with_a_reason(scanned):
    for result in scanned("fipscheck-base:bookworm").values():
        assert result.message.startswith(("no libcrypto", "no libwolfssl"))


# The preflight: CMD prints its PID (which must be the checker's, exec'd) and exits 7.
SHOW_PID = ["sh", "-c", "echo pid=$$; exit 7"]
SELF_PID = "echo pid=$$; exec " + TARGET_PATH


def preflight(target: ImageTarget, *options: str):
    return target.exec(["sh", "-c", f'{SELF_PID} {" ".join(options)} -- "$@"', "sh", *SHOW_PID])


def pids(output: bytes) -> list[str]:
    return [line for line in output.decode().split() if line.startswith("pid=")]


def test_preflight_execs_the_command_on_pass(container):
    result = preflight(container(REFERENCE), "--require-provider", "fips")
    first, second = pids(result.stdout)
    assert first == second and result.exit_code == 7 and result.stderr == b""


def test_preflight_refuses_to_start_on_failure(container):
    result = preflight(container("fipscheck/openssl-fips-tampered:latest"))
    assert result.exit_code == 1 and len(pids(result.stdout)) == 1  # CMD never ran
    lines = result.stderr.decode().splitlines()
    assert any(line.startswith("fips-startup-check: FAIL openssl.module-integrity: ") for line in lines)
    assert len(lines) == 5  # fips-mode, fips-provider, module-integrity, algorithms.approved, and:
    assert lines[-1] == "fips-startup-check: not compliant: sh not started"


def test_preflight_warn_only_warns_and_execs(container):
    result = preflight(container("fipscheck/openssl-fips-not-activated:latest"), "--warn-only")
    first, second = pids(result.stdout)
    assert first == second and result.exit_code == 7
    assert "fips-startup-check: FAIL openssl.fips-provider: " in result.stderr.decode()


def test_preflight_required_provider_missing(container):
    result = preflight(container(REFERENCE), "--require-provider", "libwolfprov")
    assert result.exit_code == 1
    assert result.stderr.decode() == ("fips-startup-check: FAIL required provider libwolfprov: "
                                      "not an active provider\n"
                                      "fips-startup-check: not compliant: sh not started\n")


@pytest.mark.parametrize(("name", "integrity"), [(REFERENCE, "pass"),
                                                 ("fipscheck/openssl-fips-tampered:latest", "fail")])
def test_private_context_sees_the_self_tests_too(container, name, integrity):
    """The in-process report's way (a private library context, as inside Python) in a real
    FIPS image: the module's self-tests are observed there, and a tampered module still fails."""
    report = json.loads(container(name).exec([TARGET_PATH, "--private-context"]).stdout)
    assert report["self_tests"]["context"] == "private"
    verdict = next(c for c in report["checks"] if c["id"] == "openssl.module-integrity")
    assert verdict["status"] == integrity
    assert any(e["type"] == "Module_Integrity" for e in report["self_tests"]["events"])


# Inside Python in a FIPS-enforced image: _hashlib has loaded the FIPS libcrypto before
# fipscheck.native.report() runs; the report must use that library and leave OpenSSL as it was.
IN_PROCESS = r"""
import _hashlib, hashlib, json, sys
sys.path.insert(0, "/.fipscheck/py")

def openssl_state():
    try:
        _hashlib.new("md5", b"")
        md5 = "served"
    except ValueError as error:
        md5 = str(error)
    return {"fips_mode": _hashlib.get_fips_mode(), "md5": md5,
            "sha256": _hashlib.new("sha256", b"abc").hexdigest()}

before = openssl_state()
from fipscheck import native
report = native.report()
print(json.dumps({"before": before, "after": openssl_state(), "report": report}))
"""
PACKAGE_FILES = ["errors.py", "native.py"]


def test_in_process_report_inside_python_on_a_fips_libcrypto(container):
    import fipscheck
    from fipscheck import _native

    target = container("fipscheck/python-openssl-fips:latest")
    package = Path(fipscheck.__file__).parent
    target.put_file("/.fipscheck/py/fipscheck/__init__.py", b"", 0o644)
    for name in PACKAGE_FILES:
        target.put_file(f"/.fipscheck/py/fipscheck/{name}", (package / name).read_bytes(), 0o644)
    extension = Path(_native.__file__)
    target.put_file(f"/.fipscheck/py/fipscheck/{extension.name}", extension.read_bytes())
    result = target.exec(["python3", "-c", IN_PROCESS])
    assert result.exit_code == 0, result.stderr.decode()
    seen = json.loads(result.stdout)
    report = seen["report"]
    assert seen["before"] == seen["after"]
    assert seen["before"]["fips_mode"] == 1 and seen["before"]["md5"] != "served"
    assert report["libcrypto"]["found_by"] == "already-loaded"
    assert report["libcrypto"]["path"] == "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    assert report["self_tests"]["context"] == "private"
    # the module's self-tests run once per process (they ran when _hashlib loaded it), so the
    # checker reran them on demand in its private context to observe them
    assert report["self_tests"]["rerun_on_demand"] is True
    assert {"phase": "Pass", "type": "Module_Integrity", "desc": "HMAC"} in report["self_tests"]["events"]
    assert {c["id"]: c["status"] for c in report["checks"]} == EXPECTED[REFERENCE]
