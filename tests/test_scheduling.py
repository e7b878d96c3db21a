"""Which unit of work xdist hands out for a node ID: a target's checks and tests together."""

from __future__ import annotations

import pytest

from fipscheck.scheduling import target_scope

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
