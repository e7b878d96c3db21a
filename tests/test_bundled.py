"""Bundled crypto under libraries.banned: recognised by what the files contain, on real PyPI
wheels, a real static OpenSSL, a renamed library and the reference image."""

from __future__ import annotations

import shutil

from fipscheck.model import Status
from fipscheck.runner import scan
from fipscheck.targets.rootfs import RootfsTarget

SITE = "/usr/local/lib/python3.11/site-packages"


def banned(target) -> dict:
    [result] = scan(target, checks=["libraries.banned"]).checks
    return result


def test_python_wheels_with_their_own_crypto(static_scan):
    result = static_scan("fipscheck/bundled-python-wheels:latest")["libraries.banned"]
    assert result.status is Status.FAIL
    found = {f["path"]: f for f in result.evidence["found"]}
    rust = found[f"{SITE}/cryptography/hazmat/bindings/_rust.abi3.so"]
    assert rust["family"] == "bundled openssl"
    assert any(b.startswith("OpenSSL ") for b in rust["banners"])
    [vendored] = [f for p, f in found.items() if p.startswith(f"{SITE}/psycopg2_binary.libs/")]
    assert vendored["family"] == "libcrypto copy" and vendored["soname"].startswith("libcrypto-")
    assert vendored["fips_module"] is None  # its providers directory is its build machine's
    pycryptodome = found[f"{SITE}/Crypto"]
    assert f"{SITE}/Crypto/Cipher/_raw_aes.abi3.so" in pycryptodome["modules"]
    # Only these three: the wheel's other modules (psycopg2's _psycopg links the vendored
    # copy, it carries none itself) are not findings of their own.
    assert len(found) == 3


def test_static_openssl_is_bundled_crypto(static_scan):
    result = static_scan("fipscheck/linkage-static-openssl:latest")["libraries.banned"]
    [finding] = result.evidence["found"]
    assert finding["path"] == "/usr/local/bin/static-openssl"
    assert finding["family"] == "bundled openssl" and "EVP_DigestInit_ex" in finding["symbols"]


def test_second_libcrypto_copies_are_named(static_scan):
    result = static_scan("fipscheck/linkage-second-libcrypto:latest")["libraries.banned"]
    copies = {f["path"]: f for f in result.evidence["found"]}
    assert set(copies) == {"/opt/legacy/lib/libcrypto.so.3", "/opt/vendored/libcrypto-vendor.so.3"}
    assert all(f["family"] == "libcrypto copy" for f in copies.values())
    # Same modules directory as the FIPS one, but OpenSSL 3.0 against a 3.5 provider.
    legacy = copies["/opt/legacy/lib/libcrypto.so.3"]
    assert legacy["version"] != legacy["fips_module_version"]


def test_renamed_library_is_known_by_its_soname(tmp_path):
    (tmp_path / "opt").mkdir()
    shutil.copy("/usr/lib/x86_64-linux-gnu/libgnutls.so.30", tmp_path / "opt/libtls-helper.so")
    [finding] = banned(RootfsTarget(tmp_path)).evidence["found"]
    assert (finding["path"], finding["family"]) == ("/opt/libtls-helper.so", "gnutls")


def test_reference_image_has_no_bundled_crypto(static_scan):
    result = static_scan("fipscheck/openssl-fips:latest")["libraries.banned"]
    assert result.status is Status.PASS, result.evidence


def test_programs_linking_the_system_libcrypto_are_not_bundled(tmp_path):
    """openssl(1) carries OpenSSL's version banner but loads libcrypto: no finding."""
    (tmp_path / "usr/bin").mkdir(parents=True)
    shutil.copy("/usr/bin/openssl", tmp_path / "usr/bin/openssl")
    result = banned(RootfsTarget(tmp_path))
    assert result.status is Status.PASS, result.evidence


def test_go_programs_are_left_to_the_go_check(static_scan):
    """BoringCrypto and Go's FIPS module are linked into Go programs by design:
    go.fips-toolchain judges them, neither of these checks does."""
    results = static_scan("fipscheck/go-variants:latest")
    found = [f["path"] for f in results["libraries.banned"].evidence["found"]]
    assert not [p for p in found if p.startswith("/opt/go-variants/")]
    linkage = results["linkage.libcrypto"].evidence
    assert "/opt/go-variants/bin/crypto-plain" in linkage["static_go_programs"]
    assert not [f for f in linkage["failures"] if f["program"].startswith("/opt/go-variants/")]
