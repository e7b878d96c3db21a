"""go.fips-toolchain against real Go binaries: the fipscheck/go-variants image carries
binaries built by Debian's Go 1.24 and 1.15 toolchains and Debian's own CNI plugins, each with
the `go version -m` output of the real toolchain, which the parser must reproduce."""

from __future__ import annotations

import shutil

import pytest

from fipscheck.checks.go import GoRuntime, classify
from fipscheck.model import Status
from fipscheck.probes.gobackend import DlopenedLibcrypto
from fipscheck.probes.gobuild import GoBinary, GoBuildInfo, go_binaries, parse_modinfo
from fipscheck.probes.linkage import LibcryptoCopy
from fipscheck.runner import ScanContext, scan
from fipscheck.targets import ImageTarget, RootfsTarget

VARIANTS = "fipscheck/go-variants:latest"
BIN = "/opt/go-variants/bin"
EXPECTED = {  # binary -> (kind, passes), as the build stage made them
    "crypto-plain": ("plain", False),
    "crypto-plain-stripped": ("plain", False),
    "crypto-gofips140": ("go-fips140", True),
    "crypto-gofips140-no-sections": ("go-fips140", True),
    "crypto-boringcrypto": ("boringcrypto", True),
    "crypto-go115": ("plain", False),
    "nocrypto": ("no-crypto", None),
    "debian-trixie-bridge": ("plain", False),
    "debian-trixie-loopback": ("no-crypto", None),
    "debian-bullseye-bridge": ("plain", False),
}
POINTER_LAYOUT = {"crypto-go115", "debian-bullseye-bridge"}  # built by Go 1.15


@pytest.fixture(scope="module")
def variants(image):
    target = ImageTarget(image(VARIANTS))
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="module")
def binaries(variants) -> dict[str, GoBinary]:
    found = ScanContext(variants).evidence(go_binaries)
    assert not found.malformed
    return {b.path.rsplit("/", 1)[-1]: b for b in found.binaries}


def go_version_m(variants, name: str) -> GoBuildInfo:
    """What the real toolchain printed: `FILE: VERSION`, then tab-indented modinfo lines."""
    first, *rest = variants.filesystem.read_text(f"/opt/go-variants/version-m/{name}.txt").splitlines()
    version = first.split(": ", 1)[1]
    return parse_modinfo(version, "", "\n".join(line[1:] for line in rest))


def test_every_go_binary_is_found(binaries):
    assert set(binaries) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_build_info_matches_go_version_m(name, binaries, variants):
    ours, theirs = binaries[name].info, go_version_m(variants, name)
    assert (ours.go_version, ours.path, ours.main, ours.deps, ours.settings) == (
        theirs.go_version, theirs.path, theirs.main, theirs.deps, theirs.settings)
    assert ours.layout == ("pointer" if name in POINTER_LAYOUT else "inline")


def test_quoted_settings_are_unquoted(binaries):
    assert binaries["crypto-plain-stripped"].info.settings["-ldflags"] == "-s -w"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_binary_is_classified(name, binaries):
    verdict = classify(binaries[name], GoRuntime())
    assert (verdict.kind, verdict.ok) == EXPECTED[name], verdict.reason


def test_image_godebug_overrides_the_default(binaries):
    fips, plain = binaries["crypto-gofips140"], binaries["crypto-plain"]
    assert classify(fips, GoRuntime("fips140=only")).ok
    off = classify(fips, GoRuntime("x509sha1=1,fips140=off"))
    assert off.ok is False and "fips140=off" in off.reason
    on_without_module = classify(plain, GoRuntime("fips140=on"))
    assert on_without_module.ok is False and "GOFIPS140" in on_without_module.reason


def test_microsoft_backend_needs_cgo_and_a_fips_libcrypto_to_dlopen(binaries):
    """No Microsoft Go toolchain exists for Debian, so this build info is made by hand from the
    boringcrypto binary's (real cgo, dynamic) with Microsoft's setting; golang-fips binaries are
    real (tests/test_golang_fips.py)."""
    real = binaries["crypto-boringcrypto"]
    settings = {k: v for k, v in real.info.settings.items() if k != "GOEXPERIMENT"}
    microsoft = GoBinary(real.path, GoBuildInfo("go1.24.4", "inline", settings={
        **settings, "microsoft_systemcrypto": "1"}), real.interpreter, frozenset({"crypto"}))
    lib = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    fips = LibcryptoCopy(lib, "3.5.9", "/usr/lib/ssl", "/usr/lib/x86_64-linux-gnu/ossl-modules", None,
                         "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so", "3.5.9")
    found = DlopenedLibcrypto("libcrypto.so.3", "/etc/ld.so.cache", fips)
    verdict = classify(microsoft, GoRuntime(), found)
    assert (verdict.kind, verdict.ok) == ("openssl", True), verdict.reason
    assert verdict.decided_by["libcrypto"]["fips_module"] == fips.fips_module
    unpaired = DlopenedLibcrypto("libcrypto.so.3", "/etc/ld.so.cache", LibcryptoCopy(
        lib, "3.5.9", "/usr/lib/ssl", None, None, None, None))
    assert "no FIPS provider" in classify(microsoft, GoRuntime(), unpaired).reason
    missing = classify(microsoft, GoRuntime())
    assert missing.ok is False and "no libcrypto.so.3" in missing.reason
    static = GoBinary(real.path, GoBuildInfo("go1.24.4", "inline", settings={
        **microsoft.info.settings, "CGO_ENABLED": "0"}), None, microsoft.markers)
    assert classify(static, GoRuntime(), found).ok is False


def test_check_fails_naming_the_plain_binaries(variants, no_leaks):
    result = scan(variants, checks=["go.fips-toolchain"]).checks[0]
    assert result.status is Status.FAIL
    failing = sorted(n for n, (_, ok) in EXPECTED.items() if ok is False)
    assert sorted(b["path"].rsplit("/", 1)[-1] for b in result.evidence["binaries"]
                  if b["kind"] in ("plain",)) == failing
    assert all(f"{BIN}/{name}" in result.message for name in failing)


def copy_binaries(variants, root, names) -> None:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(variants.filesystem.host_path(f"{BIN}/{name}"), root / "bin" / name)


def test_only_fips_binaries_pass(variants, tmp_path):
    copy_binaries(variants, tmp_path, ["crypto-gofips140", "crypto-boringcrypto", "nocrypto"])
    result = scan(RootfsTarget(tmp_path), checks=["go.fips-toolchain"]).checks[0]
    assert result.status is Status.PASS, result.message
    kinds = {b["path"]: (b["kind"], b["decided_by"]) for b in result.evidence["binaries"]}
    assert kinds["/bin/crypto-gofips140"] == ("go-fips140", {
        "GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on", "CGO_ENABLED": "0",
        "-tags": "fips140v1.0"})


def test_no_crypto_is_not_applicable(variants, tmp_path):
    copy_binaries(variants, tmp_path, ["nocrypto", "debian-trixie-loopback"])
    result = scan(RootfsTarget(tmp_path), checks=["go.fips-toolchain"]).checks[0]
    assert result.status is Status.SKIP


@pytest.mark.parametrize("damage", ["truncated", "bad-varint", "bad-pointer"])
def test_damaged_build_info_is_an_error_never_a_pass(damage, variants, tmp_path):
    name = "crypto-go115" if damage == "bad-pointer" else "crypto-gofips140"
    copy_binaries(variants, tmp_path, [name])
    path = tmp_path / "bin" / name
    data = bytearray(path.read_bytes())
    at = data.index(b"\xff Go buildinf:")
    if damage == "truncated":
        del data[at + 20:]
    elif damage == "bad-varint":
        data[at + 32:at + 48] = b"\xff" * 16
    else:
        data[at + 16:at + 24] = (0xDEAD0000).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    result = scan(RootfsTarget(tmp_path), checks=["go.fips-toolchain"]).checks[0]
    assert result.status is Status.ERROR, result.message
    assert "/bin/" + name in result.evidence["unreadable"]
