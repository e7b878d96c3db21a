"""The reference image and its negative twins are trusted fixtures for every other test: each
twin must differ from the reference in exactly the one property it breaks, as the image's own
tools show it inside a container."""

from __future__ import annotations

import pytest

REFERENCE = "fipscheck/openssl-fips:latest"

# What one container run reports about an image, with the image's own openssl and ls.
PROPERTIES = r"""
openssl list -providers 2>/dev/null | sed -n 's/^  \([a-z][a-z0-9]*\)$/provider=\1/p'
echo x | openssl dgst -md5 >/dev/null 2>&1 && echo md5=served || echo md5=refused
echo x | openssl dgst -sha256 >/dev/null 2>&1 && echo sha256=works || echo sha256=fails
ls /usr/lib/*/ | grep -qE '^lib(gnutls|nettle|hogweed)' && echo gnutls=present || echo gnutls=absent
"""

TWINS = {
    # twin: the one property that differs from the reference, and its value there
    "fipscheck/openssl-fips-not-activated:latest": {"providers": "default", "md5": "served"},
    "fipscheck/openssl-fips-no-default-properties:latest": {"providers": "base,default,fips",
                                                            "md5": "served"},
    "fipscheck/openssl-fips-tampered:latest": {"providers": "base", "sha256": "fails"},
    "fipscheck/openssl-fips-gnutls:latest": {"gnutls": "present"},
}


def properties(run_in, name: str) -> dict[str, str]:
    code, output = run_in(name, PROPERTIES)
    assert code == 0, output
    found: dict[str, list[str]] = {}
    for line in output.split():
        key, value = line.split("=", 1)
        found.setdefault(key, []).append(value)
    return {"providers" if k == "provider" else k: ",".join(sorted(v)) for k, v in found.items()}


@pytest.fixture(scope="module")
def reference(image, run_in):
    return properties(run_in, image(REFERENCE))


def test_reference_is_fips_enforced(reference):
    assert reference == {"providers": "base,fips", "md5": "refused", "sha256": "works",
                         "gnutls": "absent"}


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_twin_breaks_exactly_one_property(twin, reference, image, run_in):
    seen = properties(run_in, image(twin))
    differences = {k: v for k, v in seen.items() if reference.get(k) != v}
    assert differences == TWINS[twin]
