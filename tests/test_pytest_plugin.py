"""The pytest plugin, run by pytester in an empty directory, against real images."""

from __future__ import annotations

import pytest

from fipscheck.checks import all_checks

REFERENCE = "fipscheck/openssl-fips:latest"
GNUTLS_TWIN = "fipscheck/openssl-fips-gnutls:latest"


@pytest.fixture
def empty_dir(pytester):
    return pytester


def test_checks_collected_from_an_empty_directory(empty_dir, image, no_leaks):
    result = empty_dir.runpytest_subprocess(f"--fips-image={image(REFERENCE)}",
                                            "-p", "no:cacheprovider", "-v")
    outcomes = result.parseoutcomes()  # one item per check: counts grow as checks are added
    assert "failed" not in outcomes and "errors" not in outcomes and outcomes["passed"] > 1
    result.stdout.fnmatch_lines([f"fips[[]{REFERENCE}]::libraries.banned PASSED*",
                                 f"fips[[]{REFERENCE}]::openssl.fips-provider PASSED*",
                                 f"{REFERENCE}: PASS*"])


def test_failure_shows_evidence_and_junit_carries_the_check(empty_dir, image, no_leaks):
    junit = empty_dir.path / "out.xml"
    result = empty_dir.runpytest_subprocess(f"--fips-image={image(GNUTLS_TWIN)}",
                                            f"--junitxml={junit}")
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(["*libraries.banned: FAIL: 3 banned crypto libraries*",
                                 '*"family": "gnutls"*'])
    xml = junit.read_text()
    assert 'name="fips_check" value="libraries.banned"' in xml
    assert "libgnutls.so.30" in xml


def test_unreachable_image_is_a_failure_not_a_skip(empty_dir, no_leaks):
    result = empty_dir.runpytest_subprocess("--fips-image=fipscheck/no-such-image:never")
    result.assert_outcomes(failed=len(all_checks()))
    result.stdout.fnmatch_lines(["*libraries.banned: ERROR: no such image*"])


def test_ini_option_and_keyword_selection(empty_dir, image, no_leaks):
    empty_dir.makeini(f"[pytest]\nfips_image = {image(REFERENCE)}\n")
    selected = empty_dir.runpytest_subprocess("-k", "libraries")
    selected.assert_outcomes(passed=1)
    deselected = empty_dir.runpytest_subprocess("-k", "no_such_check")
    assert deselected.ret == 5  # nothing selected: pytest's "no tests" exit
