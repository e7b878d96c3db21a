"""Which unit of work xdist hands out for a node ID (a target's checks and tests together), in
which order, and how many cores each worker's scans take."""

from __future__ import annotations

import os
from collections import OrderedDict

import pytest

from fipscheck.scheduling import analysis_share, heaviest_first, image_weight, target_scope

LABELS = ["app:1", "app:10", "container:web"]


@pytest.mark.parametrize(("nodeid", "scope"), [
    ("fips[app:1]::openssl.fips-mode", "fips[app:1]"),
    ("fips[app:10]::libraries.banned", "fips[app:10]"),
    ("test_mine.py::test_md5_refused[app:10]", "fips[app:10]"),
    ("test_mine.py::TestImage::test_config[app:1]", "fips[app:1]"),
    ("test_mine.py::test_pairs[sha256-container:web]", "fips[container:web]"),
    ("test_mine.py::test_other[3]", "test_mine.py::test_other[3]"),
    ("test_mine.py::test_plain", "test_mine.py::test_plain"),
])
def test_target_scope(nodeid, scope):
    assert target_scope(nodeid, LABELS) == scope


def test_heaviest_targets_go_out_first():
    queue = OrderedDict((scope, {}) for scope in
                        ["fips[small]", "test_a.py::test_one", "fips[big]", "fips[unknown]", "fips[mid]"])
    heaviest_first(queue, {"fips[small]": 10, "fips[big]": 300, "fips[mid]": 50})
    # ties (every scope without a weight) keep the order they had
    assert list(queue) == ["fips[big]", "fips[mid]", "fips[small]", "test_a.py::test_one", "fips[unknown]"]


def test_image_weight(engine, image, tmp_path):
    name = image("fipscheck/cni-fips:latest")
    assert image_weight(name) == engine.images.get(name).attrs["Size"] > 0
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"x" * 1234)
    assert image_weight(f"docker-archive:{archive}") == 1234
    # unknown, so in the command line's order; opening it reports what is wrong
    assert image_weight(f"oci-archive:{tmp_path / 'missing.tar'}") == 0
    assert image_weight("fipscheck/no-such-image:never") == 0
    assert image_weight(f"dir:{tmp_path}") == 0


@pytest.mark.parametrize(("cores", "workers", "share"),
                         [(2, 2, 1), (4, 2, 2), (1, 4, 1), (8, 3, 2), (2, 1, 2)])
def test_analysis_share(cores, workers, share):
    assert analysis_share(cores, workers) == share


SHARE_TEST = """
import os

def test_share(fips_target):
    with open(os.environ["SEEN"] + "-" + os.environ["PYTEST_XDIST_WORKER"], "w") as seen:
        seen.write(os.environ.get("FIPSCHECK_WORKERS", "unset"))
"""


@pytest.mark.parametrize("preset", [None, "3"])
def test_each_xdist_worker_scans_with_its_share_of_the_cores(pytester, monkeypatch, preset):
    """Two workers, two targets: each worker's scans use its share of the cores for ELF
    analysis processes, unless the user set FIPSCHECK_WORKERS."""
    roots = [pytester.path / name for name in ("one", "two")]
    for root in roots:
        (root / "bin").mkdir(parents=True)
    pytester.makepyfile(test_share=SHARE_TEST)
    monkeypatch.setenv("SEEN", str(pytester.path / "seen"))
    if preset:
        monkeypatch.setenv("FIPSCHECK_WORKERS", preset)
    else:
        monkeypatch.delenv("FIPSCHECK_WORKERS", raising=False)
    result = pytester.runpytest_subprocess(*(f"--fips-rootfs={root}" for root in roots), "-n", "2",
                                           "-m", "not fips", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    seen = {path.read_text() for path in pytester.path.glob("seen-gw*")}
    assert len(list(pytester.path.glob("seen-gw*"))) == 2  # both workers ran one target
    assert seen == {preset or str(max(1, len(os.sched_getaffinity(0)) // 2))}
