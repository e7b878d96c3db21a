"""The cni-fips reference image has the aws-node FIPS image's shape, as its own tools show
inside a container, and its entrypoint's preflight refuses to start the program when FIPS
is not in force."""

from __future__ import annotations

import pytest

CNI = "fipscheck/cni-fips:latest"
NO_CONNTRACK = "fipscheck/cni-fips-no-conntrack:latest"

LAYOUT = r"""
echo "conf=$OPENSSL_CONF modules=$OPENSSL_MODULES ld=$LD_LIBRARY_PATH"
echo "openssl=$(command -v openssl)"
openssl list -providers | sed -n 's/^  \([a-z]*\)$/provider=\1/p'
openssl dgst -md5 /dev/null >/dev/null 2>&1 && echo md5=served || echo md5=refused
echo "libcrypto=$(find / -xdev -name 'libcrypto.so*' | sort | tr '\n' ' ')"
echo "cache=$(ldconfig -p | sed -n 's/.*libcrypto.so.3 .*=> //p')"
echo "banned=$(find / -xdev \( -name 'libgnutls*' -o -name 'libnettle*' -o -name 'libhogweed*' \) | wc -l)"
echo "go=$(ls -d /usr/lib/go* /usr/bin/go 2>/dev/null | wc -l)"
for program in /app/cni-agent /app/cni-plugin /app/health-probe; do
  grep -q 'GOFIPS140=v1.0.0' "$program" && echo "gofips=$program"
done
for tool in iptables ipset conntrack; do command -v "$tool" >/dev/null && echo "tool=$tool"; done
true
"""


def facts(run_in, name: str) -> list[str]:
    code, output = run_in(name, LAYOUT)
    assert code == 0, output
    return output.splitlines()


@pytest.fixture(scope="module")
def cni(image, run_in) -> list[str]:
    return facts(run_in, image(CNI))


def test_openssl_fips_under_usr_local_is_the_only_libcrypto(cni):
    assert ("conf=/usr/local/openssl/ssl/openssl.cnf modules=/usr/local/openssl/lib64/ossl-modules "
            "ld=/usr/local/openssl/lib64") in cni
    assert "openssl=/usr/local/openssl/bin/openssl" in cni
    assert [line for line in cni if line.startswith("provider=")] == ["provider=base", "provider=fips"]
    assert "md5=refused" in cni
    assert "libcrypto=/usr/local/openssl/lib64/libcrypto.so.3 " in cni
    assert "cache=/usr/local/openssl/lib64/libcrypto.so.3" in cni
    assert "banned=0" in cni


def test_go_programs_built_with_gofips140_and_no_go_left(cni):
    assert [line for line in cni if line.startswith("gofips=")] == [
        "gofips=/app/cni-agent", "gofips=/app/cni-plugin", "gofips=/app/health-probe"]
    assert "go=0" in cni


def test_cni_tools_present_and_the_twin_lacks_only_conntrack(cni, image, run_in):
    assert [line for line in cni if line.startswith("tool=")] == [
        "tool=iptables", "tool=ipset", "tool=conntrack"]
    twin = facts(run_in, image(NO_CONNTRACK))
    assert set(cni) - set(twin) == {"tool=conntrack"} and set(twin) <= set(cni)


def run_entrypoint(engine, command: list[str], **env: str) -> tuple[int, str]:
    container = engine.containers.create(CNI, command=command, network_mode="none",
                                         environment=env)
    try:
        container.start()
        return container.wait(timeout=120)["StatusCode"], container.logs().decode()
    finally:
        container.remove(force=True)


def test_preflight_starts_the_program_only_when_fips_is_in_force(engine, image):
    image(CNI)
    code, output = run_entrypoint(engine, ["/app/health-probe"])
    assert code == 0 and output.startswith("health-probe: fips140=true")
    code, output = run_entrypoint(engine, ["/app/health-probe"], OPENSSL_CONF="/dev/null")
    # the program never ran (no line of its own), and the checker says so
    assert code == 1 and "health-probe: fips140" not in output
    assert "not compliant: /app/health-probe not started" in output
    assert "required provider fips: not an active provider" in output
