"""nss.fips, node.fips, java.fips and the Rust and Kerberos findings of libraries.banned on
real Debian software: the runtime reference images (dockerfiles/runtimes), each scanned once."""

from __future__ import annotations

import pytest

from fipscheck.model import Status
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget

CHECKS = ["nss.fips", "node.fips", "java.fips", "libraries.banned"]
REFERENCE = "fipscheck/openssl-fips:latest"
LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
JAVA_HOME = "/usr/lib/jvm/java-21-openjdk-amd64"
NSS_DB = "/etc/pki/nssdb/pkcs11.txt"


@pytest.fixture(scope="module")
def checked(image):
    """The runtime checks' results per image, each image scanned once."""
    results: dict[str, dict] = {}

    def of(name: str) -> dict:
        if name not in results:
            full = name if "/" in name else f"fipscheck/{name}:latest"
            with ImageTarget(image(full)) as target:
                report = scan(target, checks=CHECKS)
            results[name] = {r.id: r for r in report.checks}
        return results[name]
    return of


def test_reference_has_none_of_these_runtimes(checked):
    """glibc's libnss_*.so.2 and OpenSSL's libssl.so.3 are there: neither is NSS."""
    results = checked(REFERENCE)
    for check_id in ("nss.fips", "node.fips", "java.fips"):
        assert results[check_id].status is Status.SKIP, results[check_id].message
    assert results["libraries.banned"].status is Status.PASS


def test_nss_default_database_is_not_fips(checked):
    result = checked("runtime-nss")["nss.fips"]
    assert result.status is Status.FAIL
    assert "NSS 3." in result.message and "FIPS mode off" in result.message
    assert result.evidence["softoken"] == ["/usr/lib/x86_64-linux-gnu/libsoftokn3.so"]
    assert "/usr/lib/x86_64-linux-gnu/libfreeblpriv3.so" in result.evidence["freebl"]
    [database] = result.evidence["databases"]
    assert (database["path"], database["fips"]) == (NSS_DB, False)
    assert database["module"] == "NSS Internal PKCS #11 Module"


def test_nss_in_fips_mode_is_not_a_validated_module(checked):
    results = checked("runtime-nss-fips-mode")
    result = results["nss.fips"]
    assert result.status is Status.FAIL
    assert "FIPS mode on, not a validated module" in result.message
    [database] = result.evidence["databases"]
    assert database["fips"] is True and "FIPS" in database["flags"]
    assert database["module"] == "NSS Internal FIPS PKCS #11 Module"
    # nothing else of the image is blamed: NSS is judged by nss.fips alone
    assert results["libraries.banned"].status is Status.PASS, results["libraries.banned"].message


def test_node_ignores_openssl_conf_without_shared_config(checked):
    result = checked("runtime-node")["node.fips"]
    assert result.status is Status.FAIL
    [runtime] = result.evidence["runtimes"]
    assert runtime["node"].startswith("/usr/lib/x86_64-linux-gnu/libnode.so.")
    assert runtime["programs"] == ["/usr/bin/node"] and runtime["libcrypto"] == [LIBCRYPTO]
    assert runtime["configuration"]["init_key"] == "nodejs_conf"
    assert any("no `nodejs_conf`" in r for r in runtime["reasons"])
    # the image's own node agrees: FIPS off and MD5 served, under the FIPS OPENSSL_CONF
    assert (runtime["run"]["fips"], runtime["run"]["md5"]) == (0, "served")
    assert runtime["run"]["shared_openssl"] is True


def test_node_with_shared_config_passes(checked):
    result = checked("runtime-node-fips")["node.fips"]
    assert result.status is Status.PASS, result.message
    assert result.evidence["start"]["flags"] == ["--openssl-shared-config"]
    [runtime] = result.evidence["runtimes"]
    assert runtime["configuration"]["init_key"] == "openssl_conf"
    assert runtime["configuration"]["default_properties"] == "fips=yes"
    assert runtime["run"]["fips"] == 1 and runtime["run"]["md5"].startswith("refused")


def test_jre_with_only_its_own_providers_fails(checked):
    results = checked("runtime-java")
    result = results["java.fips"]
    assert result.status is Status.FAIL
    [runtime] = result.evidence["runtimes"]
    assert runtime["home"] == JAVA_HOME and runtime["version"].startswith("21.")
    assert [p["provider"] for p in runtime["providers"]][:5] == [
        "SUN", "SunRsaSign", "SunEC", "SunJSSE", "SunJCE"]
    assert "the first provider is not a FIPS provider: SUN" in result.message
    assert runtime["run"]["providers"][:3] == ["SUN", "SunRsaSign", "SunEC"]
    # the JRE pulls in NSS (for SunPKCS11), which nss.fips judges
    assert results["nss.fips"].status is Status.FAIL


def test_bcprov_on_the_class_path_is_named(checked):
    result = checked("runtime-java-bcprov")["java.fips"]
    assert result.status is Status.FAIL
    assert result.evidence["class_path"] == ["/usr/share/java/bcprov.jar"]
    assert "non-FIPS BouncyCastle on the class path: /usr/share/java/bcprov.jar" in result.message
    assert "not FIPS" in result.evidence["bouncycastle_jars"]["/usr/share/java/bcprov.jar"][0]


def test_jre_on_nss_fips_module_passes_java_but_not_nss(checked):
    results = checked("runtime-java-nss-fips")
    result = results["java.fips"]
    assert result.status is Status.PASS, result.message
    [runtime] = result.evidence["runtimes"]
    assert [(p["provider"], p["kind"]) for p in runtime["providers"]] == [
        ("SunPKCS11", "fips"), ("SunJSSE", "no-crypto")]
    assert runtime["security_files"][-1] == "/etc/java-fips/java-nss-fips.security"
    assert runtime["run"]["providers"] == ["SunPKCS11-NSS-FIPS", "SunJSSE"]
    assert "FIPS mode on, not a validated module" in results["nss.fips"].message


def test_rust_program_names_ring_and_rustcrypto(checked):
    result = checked("runtime-rust")["libraries.banned"]
    assert result.status is Status.FAIL
    found = {f["path"]: f for f in result.evidence["found"]}
    daemon = found["/usr/bin/ntp-daemon"]
    assert daemon["family"] == "bundled ring"
    assert any(c.startswith("ring 0.17.") for c in daemon["crates"])
    assert {"aes", "aes-siv"} <= {c.split()[0] for c in daemon["crates"]}


def test_kerberos_builtin_crypto_is_recognised(checked):
    result = checked("runtime-krb5")["libraries.banned"]
    assert result.status is Status.FAIL
    [finding] = result.evidence["found"]
    assert finding["family"] == "mit-krb5 libk5crypto"
    assert finding["soname"] == "libk5crypto.so.3"
    assert "/usr/lib/x86_64-linux-gnu/libk5crypto.so.3" in finding["aliases"]
