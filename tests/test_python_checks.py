"""python.hashlib and python.ssl inside real images, run with the image's own interpreter."""

from __future__ import annotations

import pytest

from fipscheck import Status, scan
from fipscheck.targets import ImageTarget

PYTHON_FIPS = "fipscheck/python-fips:latest"
DEBIAN_PYTHON = "fipscheck/python-fips-debian-python:latest"
NO_PYTHON = "fipscheck/openssl-fips:latest"
LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
FIPS_PROVIDER = "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"


def python_checks(name: str) -> dict:
    with ImageTarget(name) as target:
        report = scan(target, checks=["python.hashlib", "python.ssl"])
    return {result.id: result for result in report.checks}


@pytest.fixture(scope="module")
def python_fips(image):
    return python_checks(image(PYTHON_FIPS))


@pytest.fixture(scope="module")
def debian_python(image):
    return python_checks(image(DEBIAN_PYTHON))


def test_pytest_plugin_passes_the_python_checks_on_python_fips(pytester, image, no_leaks):
    result = pytester.runpytest_subprocess(f"--fips-image={image(PYTHON_FIPS)}", "-k", "python",
                                           "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"fips[[]{PYTHON_FIPS}]::python.hashlib PASSED*",
                                 f"fips[[]{PYTHON_FIPS}]::python.ssl PASSED*"])


def test_python_fips_refuses_md5_with_no_builtin_fallback(python_fips):
    result = python_fips["python.hashlib"]
    assert result.status is Status.PASS, result.message
    facts = result.evidence["interpreters"]["/usr/local/bin/python3"]
    assert facts["python"]["version"].startswith("3.13.")
    assert facts["fips_mode"] == 1
    assert {"md5", "blake2b", "blake2s", "md4"} <= set(facts["refused"])
    assert facts["served"]["hashlib.new('sha256')"] == "_hashlib"
    assert "hashlib.md5()" not in facts["served"]  # no constructor at all: nothing to fall back to
    # usedforsecurity=False fetches without fips=yes, but only FIPS and base providers exist
    assert facts["usedforsecurity_false"]["md5"] == "refused"


def test_python_fips_ssl_runs_on_the_fips_libcrypto(python_fips):
    result = python_fips["python.ssl"]
    assert result.status is Status.PASS, result.message
    facts = result.evidence["interpreters"]["/usr/local/bin/python3"]
    assert facts["libcrypto_loaded"] == [LIBCRYPTO]
    assert facts["fips_provider_loaded"] == [FIPS_PROVIDER]
    assert facts["openssl_version"].startswith("OpenSSL 3.5.")
    assert facts["ssl_module"].startswith("/usr/local/lib/python3.13/lib-dynload/_ssl.")


def test_debian_python_fails_hashlib_naming_md5_and_its_builtin(debian_python):
    result = debian_python["python.hashlib"]
    assert result.status is Status.FAIL
    assert "/usr/bin/python3: " in result.message
    assert "md5 served by the builtin _md5" in result.message
    facts = result.evidence["interpreters"]["/usr/bin/python3"]
    assert facts["fips_mode"] == 1  # OpenSSL is in FIPS mode, yet hashlib.md5() works
    assert facts["served"]["hashlib.md5()"] == "_md5"
    assert facts["served"]["hashlib.new('sha256')"] == "_hashlib"


def test_debian_python_differs_only_in_hashlib(debian_python):
    result = debian_python["python.ssl"]
    assert result.status is Status.PASS, result.message
    facts = result.evidence["interpreters"]["/usr/bin/python3"]
    assert facts["libcrypto_loaded"] == [LIBCRYPTO]
    assert facts["fips_provider_loaded"] == [FIPS_PROVIDER]


def test_image_without_python_skips_with_the_places_searched(image, no_leaks):
    results = python_checks(image(NO_PYTHON))
    for result in results.values():
        assert result.status is Status.SKIP
        assert "no Python 3 interpreter" in result.message
        assert "/usr/local/bin" in result.evidence["searched"]
