"""The aws-node seed's OpenSSL stack, wolfProvider over wolfSSL, built for real from
wolfProvider 1.2.1 and Debian's open-source wolfSSL: the seed's manual procedure passes it
(`openssl list -providers` shows wolfprov, MD5 is refused), fipscheck calls it what it is. The
commercial path (wolfProvider over wolfSSL FIPS, which cannot be had here) runs on test doubles
of both libraries, loaded by the host's real OpenSSL 3."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fipscheck import Status
from fipscheck.native import executable_path
from fipscheck.probes.native import TARGET_PATH
from fipscheck.targets import ImageTarget

SEED_CONFIG = "fipscheck/wolfprovider-oss:latest"
OWN_CONFIG = "fipscheck/wolfprovider-oss-no-fips-properties:latest"
RUNTIME_CHECKS = ["openssl.fips-mode", "openssl.fips-provider", "openssl.module-integrity",
                  "algorithms.approved", "algorithms.non-approved", "wolfssl.fips"]
WOLFSSL = "/usr/local/lib/libwolfssl.so.42.2.0"
NOT_FIPS = ("wolfSSL Provider active, wolfSSL not a FIPS build: libwolfprov (wolfSSL Provider "
            f"1.2.1) runs on {WOLFSSL} 5.7.2, which exports no wolfCrypt_GetStatus_fips")

# The seed's manual procedure, with the image's own tools.
MANUAL = r"""
openssl list -providers
echo "banned=$(find / -xdev \( -name 'libgnutls*' -o -name 'libnettle*' -o -name 'libhogweed*' \) | wc -l)"
echo x | openssl dgst -md5 >/dev/null 2>&1 && echo md5=served || echo md5=refused
"""


@pytest.mark.parametrize(("name", "md5"), [(SEED_CONFIG, "refused"), (OWN_CONFIG, "served")])
def test_the_manual_procedure_sees_wolfprov_active(name, md5, image, run_in):
    code, output = run_in(image(name), MANUAL)
    assert code == 0, output
    assert "  libwolfprov\n    name: wolfSSL Provider\n    version: 1.2.1\n    status: active" in output
    assert "banned=0" in output and f"md5={md5}" in output


@pytest.fixture(scope="module")
def scanned(image_checks):
    return lambda name: image_checks(name, RUNTIME_CHECKS)


EXPECTED = {
    SEED_CONFIG: ["fail", "fail", "skip", "fail", "pass", "fail"],  # fips=yes: nothing is served
    OWN_CONFIG: ["fail", "fail", "skip", "pass", "fail", "fail"],  # wolfSSL serves MD5 too
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fipscheck_fails_wolfprovider_over_open_source_wolfssl(name, scanned):
    checks = scanned(name)
    assert [checks[i].status.value for i in RUNTIME_CHECKS] == EXPECTED[name]
    provider = checks["openssl.fips-provider"]
    assert provider.message.startswith(NOT_FIPS), provider.message
    assert provider.evidence["providers"] == [{
        "name": "wolfSSL Provider", "configured_name": "libwolfprov", "version": "1.2.1",
        "buildinfo": "wolfSSL 5.7.2", "status": 1, "fips": False, "wolfssl": True}]
    wolfssl = checks["wolfssl.fips"]
    assert wolfssl.message == (f"wolfSSL present, not a FIPS build ({WOLFSSL} exports no "
                               "wolfCrypt_GetStatus_fips)")
    assert wolfssl.evidence["wolfssl"]["found_by"] == "already-loaded"


def test_seed_config_refuses_everything_and_says_why(scanned):
    checks = scanned(SEED_CONFIG)
    assert checks["openssl.fips-mode"].message.startswith(
        "fips=yes is the default, but no provider serves SHA2-256")


def test_own_config_serves_md5_from_wolfprov(scanned):
    served = [r for r in scanned(OWN_CONFIG)["algorithms.non-approved"].evidence["results"] if r["served"]]
    assert ("MD5", "libwolfprov") in [(r["algorithm"], r["provider"]) for r in served]


PROVIDER_CONFIG = """openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
libwolfprov = libwolfprov_sect
[libwolfprov_sect]
activate = 1
module = {module}
[algorithm_sect]
default_properties = fips=yes
"""


@pytest.fixture(scope="module")
def fips_wolfprovider(double, tmp_path_factory):
    """The wolfProvider FIPS double linked with the wolfSSL FIPS double (as libwolfssl.so.42,
    wolfSSL 5.7's soname), and a configuration loading it: the commercial stack's shape."""
    wolfssl = double("libwolfssl-fips-double", "-Wl,-soname,libwolfssl.so.42", filename="libwolfssl.so.42")
    directory = os.path.dirname(wolfssl)
    provider = double("libwolfprov-fips-double", "-L", directory, "-Wl,--no-as-needed", "-l:libwolfssl.so.42",
                      filename="libwolfprov-fips-double.so")
    config = tmp_path_factory.mktemp("wolfprov") / "openssl.cnf"
    config.write_text(PROVIDER_CONFIG.format(module=provider))
    return provider, str(config), directory


def host_report(config: str, library_path: str, **env: str) -> dict:
    env = {**os.environ, "OPENSSL_CONF": config, "LD_LIBRARY_PATH": library_path, **env}
    result = subprocess.run([str(executable_path())], capture_output=True, text=True, timeout=60, env=env)
    return json.loads(result.stdout)


def verdicts(report: dict) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["status"], c["message"]) for c in report["checks"]}


def test_commercial_path_on_the_doubles_is_fips(fips_wolfprovider):
    _, config, directory = fips_wolfprovider
    report = host_report(config, directory)
    checks = verdicts(report)
    assert checks["openssl.fips-provider"] == (
        "pass", "FIPS provider libwolfprov (wolfSSL Provider FIPS 1.2.1-double) is active; loaded: "
        "libwolfprov (wolfSSL Provider FIPS)")
    assert checks["wolfssl.fips"] == ("pass", "wolfCrypt FIPS v5.2.1-double: status 0 (OK)")
    assert checks["openssl.module-integrity"][0] == "pass"
    assert "wolfCrypt FIPS v5.2.1-double: status 0 (OK)" in checks["openssl.module-integrity"][1]
    assert report["wolfssl"]["path"] == os.path.join(directory, "libwolfssl.so.42")
    assert report["wolfssl"]["found_by"] == "already-loaded"
    assert report["providers"][0]["fips"] and report["providers"][0]["wolfssl"]


def test_failing_wolfssl_fips_module_fails_its_provider(fips_wolfprovider):
    _, config, directory = fips_wolfprovider
    checks = verdicts(host_report(config, directory, WOLFSSL_DOUBLE_STATUS="-203"))
    status, message = checks["openssl.fips-provider"]
    assert status == "fail" and message.startswith(
        "wolfSSL Provider FIPS inactive, wolfSSL FIPS module failing: libwolfprov (wolfSSL Provider FIPS "
        f"1.2.1-double) runs on {directory}/libwolfssl.so.42 (wolfCrypt FIPS status -203 (IN_CORE_FIPS_E))")
    assert checks["openssl.module-integrity"][0] == "skip"


def test_a_fips_name_without_a_wolfssl_to_confirm_it_is_not_trusted(double, tmp_path):
    alone = double("libwolfprov-fips-double", filename="libwolfprov-fips-double-alone.so")
    config = tmp_path / "openssl.cnf"
    config.write_text(PROVIDER_CONFIG.format(module=alone))
    status, message = verdicts(host_report(str(config), ""))["openssl.fips-provider"]
    assert status == "fail" and message.startswith(
        "wolfSSL Provider FIPS inactive, its wolfSSL unconfirmed: libwolfprov (wolfSSL Provider FIPS "
        "1.2.1-double) runs on no libwolfssl loaded in this process")


def test_a_fips_name_over_the_real_open_source_wolfssl_is_not_fips(fips_wolfprovider, image, no_leaks):
    """The FIPS-named double loaded over the image's real libwolfssl.so.42, which is open
    source: the provider's name alone must not make it FIPS."""
    provider, _, _ = fips_wolfprovider
    with ImageTarget(image(SEED_CONFIG)) as target:
        target.put_file(TARGET_PATH, executable_path().read_bytes())
        target.put_file("/.fipscheck/libwolfprov-fips-double.so", Path(provider).read_bytes())
        target.put_file("/.fipscheck/openssl.cnf", PROVIDER_CONFIG.format(
            module="/.fipscheck/libwolfprov-fips-double.so").encode(), mode=0o644)
        result = target.exec([TARGET_PATH], env={"OPENSSL_CONF": "/.fipscheck/openssl.cnf"})
    checks = verdicts(json.loads(result.stdout))
    assert checks["openssl.fips-provider"][0] == "fail"
    assert checks["openssl.fips-provider"][1].startswith(
        "wolfSSL Provider FIPS inactive, wolfSSL not a FIPS build: libwolfprov (wolfSSL Provider FIPS "
        f"1.2.1-double) runs on {WOLFSSL} 5.7.2, which exports no wolfCrypt_GetStatus_fips")
    assert Status(checks["wolfssl.fips"][0]) is Status.FAIL
