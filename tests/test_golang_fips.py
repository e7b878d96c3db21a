"""The aws-node seed's Go stack, built for real: programs made by the golang-fips/go toolchain
(built from Debian's Go 1.24 source and golang-fips's patches) over the cni-fips image's FIPS
OpenSSL. What go.fips-toolchain says about each program, from its build info and the image's
files, is checked against what the program does when it runs in the image: which libcrypto it
maps, what that OpenSSL says of its FIPS state, and whether Go's TLS still negotiates
ChaCha20-Poly1305."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from fipscheck import Status
from fipscheck.checks.go import GoRuntime, classify
from fipscheck.probes.gobackend import dlopened_libcrypto
from fipscheck.probes.gobuild import go_binaries, parse_modinfo
from fipscheck.runner import ScanContext
from fipscheck.targets import ImageTarget

SEED = "fipscheck/golang-fips:latest"
KERNEL_DEPENDENT = "fipscheck/golang-fips-kernel-dependent:latest"
VARIANTS = "fipscheck/golang-fips-variants:latest"
APP = ("/app/aws-k8s-agent", "/app/aws-cni", "/app/grpc-health-probe")
BIN = "/opt/golang-fips/bin"
VARIANT_NAMES = ("crypto-report-cgo", "crypto-report-cgo-strictfipsruntime", "crypto-report-no-openssl",
                 "crypto-report-nocgo", "crypto-report-nocgo-strictfipsruntime")
FIPS_OPENSSL = "/usr/local/openssl/lib64/libcrypto.so.3"
# GOLANG_FIPS as the program gets it: the image's own (1), switched off, and not set at all
# (this machine's kernel is not in FIPS mode: the tests below read it to be sure).
SWITCHES = ("1", "0", None)


@pytest.fixture(scope="module")
def variants(image):
    with ImageTarget(image(VARIANTS)) as target:
        yield target


@pytest.fixture(scope="module")
def context(variants):
    return ScanContext(variants)


@pytest.fixture(scope="module")
def programs(context):
    found = context.evidence(go_binaries)
    assert not found.malformed
    return {b.path: b for b in found.binaries}


def crypto_report(target: ImageTarget, program: str, golang_fips: str | None) -> dict:
    """What the program reports about its own crypto, run in the image with GOLANG_FIPS set as
    given (None: removed from the environment)."""
    argv = [program, "--crypto-report"]
    if golang_fips is None:
        result = target.exec(["env", "-u", "GOLANG_FIPS", *argv])
    else:
        result = target.exec(argv, env={"GOLANG_FIPS": golang_fips})
    assert result.exit_code == 0, result.stderr.decode()
    return json.loads(result.stdout)


def uses_fips_openssl(report: dict) -> bool:
    openssl = report["openssl"]
    fips = bool(openssl and openssl["default_properties_fips"] and openssl["fips_provider_available"]
                and openssl["sha256_provider"] == "fips")
    # Go's TLS is restricted to FIPS suites exactly when the backend is in FIPS mode
    assert fips == report["tls12_chacha20"].startswith("refused"), report
    return fips


def test_every_program_is_found_and_the_toolchain_stays_out(programs, variants):
    assert set(programs) == {*APP, *(f"{BIN}/{n}" for n in VARIANT_NAMES)}
    fs = variants.filesystem
    assert not any(fs.exists(p) for p in ("/usr/local/go-fips", "/usr/lib/go-1.24", "/src"))
    backed = {p for p, b in programs.items() if "golang-fips" in b.markers}
    assert backed == {*APP, f"{BIN}/crypto-report-cgo", f"{BIN}/crypto-report-cgo-strictfipsruntime"}


@pytest.mark.parametrize("path", [*APP, *(f"{BIN}/{n}" for n in VARIANT_NAMES)])
def test_build_info_matches_go_version_m(path, programs, variants):
    name = path.rsplit("/", 1)[-1]
    first, *rest = variants.filesystem.read_text(f"/opt/golang-fips/version-m/{name}.txt").splitlines()
    theirs = parse_modinfo(first.split(": ", 1)[1], "", "\n".join(line[1:] for line in rest))
    ours = programs[path].info
    assert (ours.go_version, ours.path, ours.settings) == (theirs.go_version, theirs.path, theirs.settings)


def test_this_kernel_is_not_in_fips_mode(variants):
    """The unset-GOLANG_FIPS cases below assume it (golang-fips reads the host's switch)."""
    assert variants.exec(["cat", "/proc/sys/crypto/fips_enabled"]).text.strip() in ("0", "")


@pytest.mark.parametrize("golang_fips", SWITCHES, ids=lambda v: f"GOLANG_FIPS={v}")
@pytest.mark.parametrize("path", [*APP, *(f"{BIN}/{n}" for n in VARIANT_NAMES)])
def test_verdict_agrees_with_what_the_program_does(path, golang_fips, programs, context, variants):
    binary = programs[path]
    dlopened = dlopened_libcrypto(context, path)
    verdict = classify(binary, GoRuntime(golang_fips=golang_fips), dlopened)
    report = crypto_report(variants, path, golang_fips)
    assert verdict.ok == uses_fips_openssl(report), (verdict.reason, report)
    if verdict.ok:
        assert report["libcrypto_mapped"] == [dlopened.copy.path] == [FIPS_OPENSSL]
        assert report["openssl"]["version"].startswith(f"OpenSSL {dlopened.copy.version} ")
    else:
        assert report["libcrypto_mapped"] is None  # Go's own crypto: no OpenSSL at all


def test_dlopen_is_resolved_as_the_loader_would(context):
    found = dlopened_libcrypto(context, "/app/aws-k8s-agent")
    assert (found.soname, found.copy.path, found.found_by) == ("libcrypto.so.3", FIPS_OPENSSL,
                                                               "LD_LIBRARY_PATH")
    assert found.copy.fips_module == "/usr/local/openssl/lib64/ossl-modules/fips.so"


def test_without_its_fips_provider_the_program_aborts_and_the_verdict_fails(programs, context, variants):
    path = f"{BIN}/crypto-report-cgo"
    result = variants.exec([path], env={"OPENSSL_MODULES": "/nonexistent"})
    assert result.exit_code != 0 and b"can't enable FIPS mode" in result.stderr
    found = dlopened_libcrypto(context, path)
    unpaired = dataclasses.replace(found, copy=dataclasses.replace(found.copy, fips_module=None))
    verdict = classify(programs[path], GoRuntime(golang_fips="1"), unpaired)
    assert verdict.ok is False and "no FIPS provider" in verdict.reason


# The FIPS provider beside the default one and no default_properties: OpenSSL alone would serve
# MD5 and take SHA2-256 from either provider.
WITHOUT_FIPS_PROPERTIES = """openssl_conf = openssl_init
.include /usr/local/openssl/ssl/fipsmodule.cnf
[openssl_init]
providers = provider_sect
[provider_sect]
fips = fips_sect
default = default_sect
[default_sect]
activate = 1
"""


def test_the_backend_asks_for_fips_yes_itself(variants):
    """OpenSSL's default properties do not decide: under GOLANG_FIPS=1 the backend sets
    fips=yes itself, so go.fips-toolchain leaves the configuration to openssl.config."""
    variants.put_file("/.fipscheck/no-fips-properties.cnf", WITHOUT_FIPS_PROPERTIES.encode(), mode=0o644)
    env = {"OPENSSL_CONF": "/.fipscheck/no-fips-properties.cnf"}
    result = variants.exec([f"{BIN}/crypto-report-cgo"], env={**env, "GOLANG_FIPS": "1"})
    assert uses_fips_openssl(json.loads(result.stdout)), result.stderr.decode()
    result = variants.exec(["env", "-u", "GOLANG_FIPS", f"{BIN}/crypto-report-cgo"], env=env)
    assert not uses_fips_openssl(json.loads(result.stdout))


def test_a_host_kernel_in_fips_mode_switches_the_backend_on(programs, context):
    path = "/app/aws-cni"
    dlopened = dlopened_libcrypto(context, path)
    assert classify(programs[path], GoRuntime(kernel_fips="1"), dlopened).ok
    off = classify(programs[path], GoRuntime(kernel_fips="0"), dlopened)
    assert off.ok is False and "fips_enabled: 0" in off.reason


def test_seed_shape_passes(image_checks):
    checks = image_checks(SEED)
    assert {c.status for c in checks.values()} == {Status.PASS, Status.SKIP, Status.WARN}, checks
    # Debian's OpenSSL 3.5 provider has no CMVP certificate: a warning, not a failure
    assert [i for i, c in checks.items() if c.status is Status.WARN] == ["modules.validated"]
    assert [i for i, c in checks.items() if c.status is Status.SKIP] == [
        "java.fips", "kernel.fips", "node.fips", "nss.fips", "python.hashlib", "python.ssl",
        "tools.required", "wolfssl.fips"]
    go = checks["go.fips-toolchain"]
    assert go.message == "3 Go binaries with crypto, each on a FIPS module"
    for binary in go.evidence["binaries"]:
        assert binary["kind"] == "openssl"
        assert binary["decided_by"]["GOLANG_FIPS (environment)"] == "1"
        assert binary["decided_by"]["libcrypto"]["path"] == FIPS_OPENSSL
        assert "switched on by GOLANG_FIPS=1" in binary["reason"]


def test_without_golang_fips_the_image_fails_on_every_program(image_checks):
    checks = image_checks(KERNEL_DEPENDENT)
    go = checks.pop("go.fips-toolchain")
    assert go.status is Status.FAIL and all(path in go.message for path in APP)
    assert all("GOLANG_FIPS=1 or a kernel in FIPS mode" in b["reason"] for b in go.evidence["binaries"])
    # everything else is the compliant image's: the image's OpenSSL is FIPS, its Go programs not
    assert {i: c.status for i, c in checks.items()} == {
        i: c.status for i, c in image_checks(SEED).items() if i != "go.fips-toolchain"}


def test_the_seed_entrypoint_starts_the_agent_on_the_fips_openssl(running):
    container = running(SEED)
    for _ in range(50):
        logs = container.logs().decode()
        if "aws-k8s-agent:" in logs:
            break
        container.reload()
        assert container.status == "running", logs
        time.sleep(0.2)
    assert f"aws-k8s-agent: libcrypto=[{FIPS_OPENSSL}]" in logs
