"""The native checker on this host: the standalone and the in-process cffi report on the host's
real OpenSSL 3.0 (no FIPS provider), the wolfSSL FIPS and OpenSSL 1.0.2 FIPS paths against test
doubles (the real libraries cannot be had here), its portability and its sanitizer run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from fipscheck import native
from fipscheck.cli import main

REPO = Path(__file__).resolve().parent.parent
RUNTIME_CHECKS = ["openssl.fips-mode", "openssl.fips-provider", "openssl.module-integrity",
                  "algorithms.approved", "algorithms.non-approved", "wolfssl.fips"]


def statuses(report: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def run_standalone(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(native.executable_path()), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def standalone_report(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = run_standalone(*args, env=env)
    return result.returncode, json.loads(result.stdout)


def host_libcrypto() -> str:
    """The libcrypto this Python process has mapped (its _hashlib loaded it), from the kernel."""
    maps = Path("/proc/self/maps").read_text()
    return os.path.realpath(re.search(r"(/\S*libcrypto\.so\S*)", maps).group(1))


def test_standalone_reports_host_openssl3_without_fips():
    code, report = standalone_report()
    assert report["schema_version"] == 1 and code == report["exit_code"] == 1
    assert report["libcrypto"]["family"] == "openssl3"
    assert report["libcrypto"]["version"].startswith("OpenSSL 3.0.")
    assert report["libcrypto"]["found_by"] == "soname"
    assert [p["configured_name"] for p in report["providers"]] == ["default"]
    assert report["providers"][0]["name"] == "OpenSSL Default Provider"
    assert report["default_sha256"]["provider"] == "default"
    assert statuses(report) == {"openssl.fips-mode": "fail", "openssl.fips-provider": "fail",
                                "openssl.module-integrity": "skip", "algorithms.approved": "pass",
                                "algorithms.non-approved": "fail", "wolfssl.fips": "skip"}
    refused = {a["algorithm"]: a for a in report["algorithms"]["non_approved"]}
    assert not refused["MD5"]["refused"] and refused["MD5"]["provider"] == "default"
    # MD4, RC4 and DES live in the legacy provider, which is not loaded: refused with a reason
    assert refused["MD4"]["refused"] and "unsupported" in refused["MD4"]["error"]


def test_text_output_is_for_people():
    result = run_standalone("--text")
    assert result.returncode == 1
    assert "provider default: OpenSSL Default Provider" in result.stdout
    assert result.stdout.rstrip().endswith("verdict: not compliant")


def test_bad_option_is_exit_2_with_usage():
    result = run_standalone("--no-such-option")
    assert result.returncode == 2 and "usage: fips-startup-check" in result.stderr


def test_in_process_report_uses_the_already_loaded_libcrypto_and_changes_nothing():
    import _hashlib

    fips_mode_before = _hashlib.get_fips_mode()
    first = native.report()
    second = native.report()
    assert first["libcrypto"]["found_by"] == "already-loaded"
    assert first["libcrypto"]["path"] == host_libcrypto()
    assert first["self_tests"]["context"] == "private"
    assert statuses(first) == statuses(second)
    assert first["providers"] == second["providers"]
    assert _hashlib.get_fips_mode() == fips_mode_before
    assert hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf")


def test_in_process_report_rejects_unknown_options():
    with pytest.raises(TypeError, match="unknown option"):
        native.report(no_such_option=True)


def test_wolfssl_fips_double_status_ok(double):
    _, report = standalone_report("--wolfssl", double("libwolfssl-fips-double"))
    wolfssl = report["wolfssl"]
    assert wolfssl["fips_build"] and wolfssl["fips_status"] == 0 and wolfssl["fips_status_name"] == "OK"
    assert wolfssl["fips_version"] == "v5.2.1-double" and wolfssl["core_hash"] == "DOUBLE0123456789ABCDEF"
    assert wolfssl["fips_mode"] == "NORMAL" and wolfssl["cast_result"] == 0
    assert statuses(report)["wolfssl.fips"] == "pass"


@pytest.mark.parametrize(("env", "message"), [
    ({"WOLFSSL_DOUBLE_STATUS": "-203"}, "wolfCrypt FIPS status -203 (IN_CORE_FIPS_E)"),
    ({"WOLFSSL_DOUBLE_STATUS": "-210"}, "wolfCrypt FIPS status -210 (AESGCM_KAT_FIPS_E)"),
    ({"WOLFSSL_DOUBLE_MODE": "2"}, "wolfCrypt FIPS mode is DEGRADED"),
    ({"WOLFSSL_DOUBLE_CAST": "3"}, "wolfCrypt CASTs failed (wc_RunAllCast_fips() = 3)"),
])
def test_wolfssl_fips_double_failures(double, env, message):
    _, report = standalone_report("--wolfssl", double("libwolfssl-fips-double"), env=env)
    verdict = next(c for c in report["checks"] if c["id"] == "wolfssl.fips")
    assert verdict == {"id": "wolfssl.fips", "status": "fail", "message": message}


def test_require_wolfssl_in_process_with_the_double(double):
    report = native.report(wolfssl=double("libwolfssl-fips-double"), require_wolfssl=True)
    assert report["requirements"] == [{"requirement": "wolfSSL FIPS", "met": True,
                                       "message": "wolfCrypt FIPS v5.2.1-double: status 0 (OK)"}]


def fips102(double, *args: str, **env: str) -> dict:
    _, report = standalone_report("--libcrypto", double("libcrypto-fips102-double"), *args, env=env)
    assert report["libcrypto"]["family"] == "openssl1"
    assert report["libcrypto"]["version"] == "OpenSSL 1.0.2zk-fips double"
    return report


def test_openssl102_fips_module_double_in_fips_mode(double):
    report = fips102(double, FIPS102_DOUBLE_MODE="1")
    assert report["fips_mode"] == {"enabled": True, "source": "FIPS_mode()", "fips_mode_set": None}
    assert statuses(report)["openssl.fips-mode"] == "pass"
    integrity = next(c for c in report["checks"] if c["id"] == "openssl.module-integrity")
    assert integrity["status"] == "pass" and "FIPS 2.0.16 double" in integrity["message"]
    # no EVP functions in the double: the algorithm checks cannot run, and say so
    assert statuses(report)["algorithms.approved"] == "error"
    assert report["algorithms"]["error"] == "libcrypto has no EVP_Digest"


def test_openssl102_double_failed_self_test(double):
    report = fips102(double, FIPS102_DOUBLE_MODE="1", FIPS102_DOUBLE_SELFTEST_FAILED="1")
    assert statuses(report)["openssl.module-integrity"] == "fail"


def test_openssl102_fips_capable_but_off(double):
    report = fips102(double, "--try-fips-mode-set", FIPS102_DOUBLE_CAPABLE="1")
    assert report["fips_mode"]["fips_mode_set"] == {"succeeded": True, "error": None}
    verdict = next(c for c in report["checks"] if c["id"] == "openssl.fips-mode")
    assert verdict["status"] == "fail" and "FIPS-capable" in verdict["message"]


def test_openssl102_not_fips_capable(double):
    report = fips102(double, "--try-fips-mode-set")
    assert report["fips_mode"]["fips_mode_set"]["succeeded"] is False
    assert "fips mode not supported" in report["fips_mode"]["fips_mode_set"]["error"]
    verdict = next(c for c in report["checks"] if c["id"] == "openssl.fips-mode")
    assert "not FIPS-capable" in verdict["message"]


def test_shipped_standalone_asks_for_nothing_newer_than_glibc_2_14():
    """Its own start-up code and pinned dl* versions (native/start.S), hardened included: the
    fortified __*_chk functions and __stack_chk_fail are older than that."""
    dynamic = subprocess.run(["objdump", "-T", str(native.executable_path())], capture_output=True,
                             text=True, check=True).stdout
    versions = {tuple(int(n) for n in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", dynamic)}
    assert versions and max(versions) <= (2, 14), sorted(versions)
    assert "libcrypto" not in subprocess.run(["readelf", "-d", str(native.executable_path())],
                                             capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("args", ["", "--private-context", "--text", "--wolfssl {wolfssl}",
                                  "--libcrypto {fips102} --try-fips-mode-set"])
def test_sanitizers_find_nothing(double, args):
    args = args.format(wolfssl=double("libwolfssl-fips-double"), fips102=double("libcrypto-fips102-double"))
    result = subprocess.run(["make", "-s", "-C", str(REPO / "native"), "sanitize", f"ARGS={args}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Sanitizer" not in result.stderr and "runtime error" not in result.stderr


def test_cli_native_path(capsys):
    assert main(["native-path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == native.executable_path() and os.access(path, os.X_OK)


def test_preflight_require_wolfssl_names_the_fips_error(double):
    result = run_standalone("--wolfssl", double("libwolfssl-fips-double"), "--require-wolfssl",
                            "--warn-only", "--", "sh", "-c", "exit 3",
                            env={"WOLFSSL_DOUBLE_STATUS": "-203"})
    assert result.returncode == 3  # --warn-only: the command ran, its exit code came back
    assert result.stderr.splitlines()[-2:] == [
        "fips-startup-check: FAIL required wolfSSL FIPS: wolfCrypt FIPS status -203 (IN_CORE_FIPS_E)",
        "fips-startup-check: not compliant: starting sh anyway (--warn-only)"]
