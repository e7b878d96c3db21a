"""Policy files (every key, validation, presets), waivers in each state, and the CMVP data,
on roots made in tmp_path and on the reference images."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fipscheck import cmvp
from fipscheck.model import Status
from fipscheck.policy import Policy
from fipscheck.policyfile import PolicyError, load_policy, resolve_policy
from fipscheck.runner import scan
from fipscheck.targets import ImageTarget, open_target

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))
REAL_LIBRARY = "/usr/lib/x86_64-linux-gnu/libz.so.1"  # any real ELF shared object of the host
OTHER_LIBRARY = "/usr/lib/x86_64-linux-gnu/libbz2.so.1.0"  # another, not banned
GNUTLS_TWIN = "fipscheck/openssl-fips-gnutls:latest"


def banned_root(tmp_path: Path) -> Path:
    """A root with two copies of a real ELF object named as GnuTLS, in /opt/legacy and /usr/lib,
    and a library that is not banned (so that a pass, with the copies ignored, examined one)."""
    root = tmp_path / "root"
    for where in ("opt/legacy/lib", "usr/lib"):
        (root / where).mkdir(parents=True)
        shutil.copy(REAL_LIBRARY, root / where / "libgnutls.so.30")
    shutil.copy(OTHER_LIBRARY, root / "usr/lib/libbz2.so.1.0")
    return root


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def scan_root(root: Path, policy: Policy, checks=("libraries.banned",)):
    with open_target("rootfs", str(root)) as target:
        return scan(target, policy, checks)


def test_zero_configuration_is_the_default_policy(tmp_path):
    policy = resolve_policy(None, start=tmp_path)
    assert policy == Policy()
    assert policy.to_dict()["source"] is None


def test_pyproject_table_is_found_upwards_as_pytest_finds_its_config(tmp_path):
    write(tmp_path, '[tool.fipscheck]\nskip = { "kernel.fips" = "hosts are checked elsewhere" }\n',
          "pyproject.toml")
    (tmp_path / "a" / "b").mkdir(parents=True)
    policy = resolve_policy(None, start=tmp_path / "a" / "b")
    assert policy.skip == {"kernel.fips": "hosts are checked elsewhere"}
    assert policy.source.endswith("pyproject.toml [tool.fipscheck]")


@pytest.mark.parametrize(("text", "expected"), [
    ("skipp = {}\n", "skipp: unknown key (known: "),
    ("allow_sha1 = \"no\"\n", "allow_sha1: expected true or false, got 'no'"),
    ("ignore_paths = [\"opt/*\"]\n", "ignore_paths[0]: expected an absolute path glob"),
    ("ignore_paths = [\"/opt/[z-a]\"]\n", "ignore_paths[0]: expected a valid glob"),
    ("skip = { \"libraries.banend\" = \"x\" }\n", "did you mean libraries.banned"),
    ("[algorithms]\napproved = [\"SHA-1\"]\n", "algorithms.approved: expected algorithms the native"),
    ("unvalidated = \"ignore\"\n", "unvalidated: expected one of 'warn', 'fail'"),
    ("preset = \"slackware\"\n", "preset: expected one of 'debian', 'rhel'"),
    ("[[waivers]]\ncheck = \"libraries.banned\"\nreason = \"x\"\nexpires = \"31/01/2027\"\n",
     "waivers[0].expires: expected a date"),
    ("[[waivers]]\ncheck = \"libraries.banned\"\n", "waivers[0]: expected `check` and `reason`"),
    ("[minimum_versions]\nopenssl = \"3.0.8\"\n", "minimum_versions.openssl: unknown key"),
    ("[banned_libraries]\nremove = [\"openssl\"]\n", "banned_libraries.remove: expected a banned family"),
    ("this is = not toml [\n", "not valid TOML"),
])
def test_a_malformed_policy_names_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(raised.value).startswith(str(path)) and expected in str(raised.value)


def test_the_cli_refuses_a_malformed_policy_with_exit_2(tmp_path):
    path = write(tmp_path, "required_tools = \"iptables\"\n")
    done = subprocess.run([FIPSCHECK, "scan", "--rootfs", str(tmp_path), "--policy", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert f"{path}: required_tools: expected an array of strings" in done.stderr


def test_skip_ignore_paths_required_tools_and_banned_libraries(tmp_path):
    root = banned_root(tmp_path)
    assert scan_root(root, Policy()).checks[0].status is Status.FAIL
    policy = load_policy(write(tmp_path, '''
        ignore_paths = ["/opt/legacy/*", "/usr/lib/libgnutls*"]
        required_tools = ["iptables"]
        skip = { "go.fips-toolchain" = "no Go here, ticket SEC-2" }
    '''))
    report = scan_root(root, policy, ("libraries.banned", "tools.required", "go.fips-toolchain"))
    go, banned, tools = report.checks  # in ID order
    assert banned.status is Status.PASS and banned.evidence["files_ignored_by_policy"] == 2
    assert go.status is Status.SKIP and "no Go here, ticket SEC-2" in go.message
    assert tools.status is Status.FAIL and "iptables" in tools.message
    assert report.policy["decided_by"]["ignore_paths"] == str(tmp_path / "policy.toml")
    removed = load_policy(write(tmp_path, '[banned_libraries]\nremove = ["gnutls"]\n'))
    assert scan_root(root, removed).checks[0].status is Status.PASS
    added = load_policy(write(tmp_path, '[banned_libraries]\nremove = ["gnutls"]\n'
                              'add = [{ family = "zlib", files = ["libz.so*"], reason = "not ours" }]\n'))
    shutil.copy(REAL_LIBRARY, root / "usr/lib/libz.so.1")
    found = scan_root(root, added).checks[0]  # the renamed copies too: their SONAME is libz.so.1
    assert found.status is Status.FAIL and {f.message for f in found.findings} == {"zlib: not ours"}
    assert len(found.findings) == 3


def test_allow_sha1_and_runtime_keys_load(tmp_path):
    policy = load_policy(write(tmp_path, '''
        allow_sha1 = false
        required_providers = ["fips"]
        unvalidated = "fail"
        [algorithms]
        approved = ["SHA-256"]
        non_approved = ["MD5", "DES"]
        [minimum_versions]
        openssl-fips-provider = "3.0.8"
    '''))
    assert policy.allow_sha1 is False and policy.required_providers == ("fips",)
    assert policy.approved_algorithms == ("SHA-256",) and policy.non_approved_algorithms == ("MD5", "DES")
    assert policy.minimum_versions == {"openssl-fips-provider": "3.0.8"} and policy.unvalidated == "fail"


def test_runtime_policy_keys_on_the_reference_image(image, tmp_path, no_leaks):
    policy = load_policy(write(tmp_path, '''
        required_providers = ["fips", "wolfprov"]
        unvalidated = "fail"
        [algorithms]
        approved = ["SHA-256", "AES-256-GCM"]
        non_approved = ["MD5"]
        [minimum_versions]
        openssl-fips-provider = "9.0"
    '''))
    with ImageTarget(image("fipscheck/openssl-fips:latest")) as target:
        report = scan(target, policy, ["openssl.fips-provider", "algorithms.approved",
                                       "algorithms.non-approved", "modules.validated"])
    results = {r.id: r for r in report.checks}
    assert results["openssl.fips-provider"].status is Status.FAIL
    assert "not active: wolfprov" in results["openssl.fips-provider"].message
    approved = results["algorithms.approved"]
    assert approved.status is Status.PASS
    assert approved.evidence["required_by_policy"] == ["SHA-256", "AES-256-GCM"]
    assert results["algorithms.non-approved"].message.startswith("MD5 were refused")
    modules = results["modules.validated"]
    assert modules.status is Status.FAIL
    assert "below the policy's minimum version 9.0" in modules.message
    assert "no certificate known for this version" in modules.message  # unvalidated = "fail"


@pytest.mark.parametrize(("preset", "banned"), [("debian", Status.FAIL), ("rhel", Status.PASS)])
def test_presets_on_the_gnutls_twin(image, tmp_path, no_leaks, preset, banned):
    policy = load_policy(write(tmp_path, f'preset = "{preset}"\n'))
    with ImageTarget(image(GNUTLS_TWIN)) as target:
        report = scan(target, policy, ["libraries.banned", "openssl.config"])
    assert report.checks[0].status is banned
    assert report.checks[1].status is Status.PASS
    assert report.policy["preset"] == preset
    if preset == "rhel":
        assert report.policy["decided_by"]["banned_libraries"] == "preset rhel"
        assert "gnutls" not in report.policy["banned_families"]


def test_rhel_preset_takes_fips_mode_from_the_kernel(image, tmp_path, no_leaks):
    name = image("fipscheck/openssl-fips-no-default-properties:latest")
    with ImageTarget(name) as target:
        plain = scan(target, None, ["openssl.config"]).checks[0]
        rhel = scan(target, load_policy(write(tmp_path, 'preset = "rhel"\n')), ["openssl.config"]).checks[0]
    assert plain.status is Status.FAIL and "fips=yes" in plain.message
    assert rhel.status is Status.PASS
    config = rhel.evidence["configurations"][0]
    assert "kernel's fips_enabled (preset rhel)" in config["fips_properties"]


def waiver_policy(tmp_path, *waivers: str) -> Policy:
    return load_policy(write(tmp_path, "\n".join(f"[[waivers]]\n{w}" for w in waivers)))


def test_waiver_states(tmp_path):
    root = banned_root(tmp_path)
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    partial = scan_root(root, waiver_policy(tmp_path, 'check = "libraries.banned"\npath = "/opt/legacy/*"\n'
                                            f'reason = "legacy agent, ticket SEC-1"\nexpires = {future}'))
    result = partial.checks[0]
    assert result.status is Status.FAIL and "1 of 2 findings waived" in result.message
    reasons = [f.waiver["reason"] if f.waiver else None for f in result.findings]
    assert reasons == ["legacy agent, ticket SEC-1", None]
    assert partial.waivers[0]["state"] == "applied" and partial.waivers[0]["findings_waived"] == 1

    whole = scan_root(root, waiver_policy(tmp_path, 'check = "libraries.banned"\nreason = "accepted"\n'
                                          f'expires = "{future}"'))  # a quoted ISO date works too
    assert whole.checks[0].status is Status.WAIVED and whole.checks[0].message.startswith("waived (accepted)")
    assert whole.verdict is Status.ERROR  # a waived check verifies nothing

    expired = scan_root(root, waiver_policy(tmp_path, 'check = "libraries.banned"\nreason = "old"\n'
                                            'expires = 2020-01-31'))
    assert expired.checks[0].status is Status.FAIL
    assert "expired on 2020-01-31 (old)" in expired.checks[0].message
    assert expired.waivers[0]["state"] == "expired"

    stale = scan_root(root, waiver_policy(
        tmp_path, 'check = "libraries.banned"\npath = "/srv/*"\nreason = "gone"',
        'check = "libraries.banned"\nimage = "registry.example/*"\nreason = "x"'))
    assert stale.checks[0].status is Status.FAIL
    assert [w["state"] for w in stale.waivers] == ["stale", "out of scope"]
    assert stale.warnings == (f"stale waiver: libraries.banned path /srv/* matched nothing on {root} (gone): "
                              "remove it or fix its path",)
    assert stale.exit_code_for("warn") == 1


def test_a_waived_check_is_xfail_in_pytest_and_a_stale_waiver_warns(pytester, tmp_path):
    root = banned_root(tmp_path)
    policy = waiver_policy(tmp_path, 'check = "libraries.banned"\nreason = "accepted"',
                           'check = "linkage.libcrypto"\nreason = "never matches"')
    del policy
    junit = pytester.path / "out.xml"
    policy_file = tmp_path / "policy.toml"
    result = pytester.runpytest_subprocess(f"--fips-rootfs={root}", f"--fips-policy={policy_file}",
                                           "-k", "banned or linkage", "-rxX", f"--junitxml={junit}")
    result.assert_outcomes(xfailed=1, skipped=1, deselected=len(list_checks()) - 2)
    result.stdout.fnmatch_lines(["*warning: stale waiver: linkage.libcrypto matched nothing*",
                                 "*XFAIL*libraries.banned*waived (accepted)*"])
    assert 'type="pytest.xfail" message="waived (accepted)' in junit.read_text()


def list_checks() -> list[str]:
    from fipscheck.checks import all_checks
    return [c.id for c in all_checks()]


def test_the_cmvp_data_file_parses_and_every_row_has_a_source():
    rows = cmvp.rows()
    assert len(rows) >= 8 and all(r.source and r.confirmed for r in rows)
    assert {r.kind for r in rows} >= {"openssl-fips-provider", "go-cryptographic-module", "boringcrypto",
                                      "wolfcrypt", "aws-lc"}
    assert all(r.status == "historical" for r in rows if r.standard == "FIPS 140-2")
    assert cmvp.lookup("openssl-fips-provider", "OpenSSL FIPS Provider", "3.1.2").certificate == 4985
    assert cmvp.lookup("openssl-fips-provider", "OpenSSL FIPS Provider", "3.0.8").certificate == 4282
    assert cmvp.lookup("go-cryptographic-module", "Go Cryptographic Module", "v1.0.0").certificate == 5247
    assert cmvp.lookup("wolfcrypt", "wolfCrypt FIPS", "5.2.1").certificate == 4718
    assert cmvp.lookup("openssl-fips-provider", "OpenSSL FIPS Provider", "3.5.9") is None
    assert not cmvp.validated(cmvp.lookup("openssl-fips-provider", "OpenSSL FIPS Provider", "3.0.8"),
                              datetime.date(2026, 11, 25))  # FIPS 140-2: historical since 2026-09-21


def test_cmvp_rows_on_the_reference_images(image, no_leaks):
    with ImageTarget(image("fipscheck/openssl-fips:latest")) as target:
        debian = scan(target, None, ["modules.validated", "openssl.fips-mode"])
    modules, mode = debian.checks
    assert mode.status is Status.PASS  # FIPS mode on ...
    assert modules.status is Status.WARN  # ... but not a validated version
    provider = next(m for m in modules.evidence["modules"] if m["kind"] == "openssl-fips-provider")
    assert provider["name"] == "OpenSSL FIPS Provider" and provider["version"].startswith("3.5.")
    assert provider["fips_mode"] is True
    assert provider["certificate"]["text"] == "no certificate known for this version"
    with ImageTarget(image("fipscheck/go-variants:latest")) as target:
        go = scan(target, None, ["modules.validated"]).checks[0]
    by_kind = {}
    for module in go.evidence["modules"]:
        by_kind.setdefault(module["kind"], []).append(module)
    gofips = by_kind["go-cryptographic-module"][0]
    assert gofips["version"] == "v1.0.0" and gofips["certificate"]["certificate"] == 5247
    assert by_kind["boringcrypto"][0]["certificate"]["text"] == "no certificate known for this version"
