"""tools.required on root filesystems built here, and kernel.fips's verdicts. The live cases
(images, containers, this host) are in test_targets_live and test_pytest_plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipscheck import Policy, Status
from fipscheck.runner import scan
from fipscheck.targets import RootfsTarget
from fipscheck.targets.base import ExecResult, TargetConfig


def executable(path: Path, data: bytes = b"\x7fELF") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755)


class RootfsWithPath(RootfsTarget):
    """A root filesystem with an image configuration's PATH, as an image would have."""

    def __init__(self, directory: Path, path: str) -> None:
        super().__init__(directory)
        self._path = path

    @property
    def config(self) -> TargetConfig:
        return TargetConfig(env={"PATH": self._path})


def tools_result(target, *tools: str):
    [result] = scan(target, Policy(required_tools=tools), checks=["tools.required"]).checks
    return result


def test_tools_resolve_through_symlinks_inside_the_root(tmp_path):
    executable(tmp_path / "usr/sbin/xtables-nft-multi")
    (tmp_path / "usr/sbin/iptables").symlink_to("/usr/sbin/xtables-nft-multi")  # absolute: inside
    (tmp_path / "sbin").symlink_to("usr/sbin")
    result = tools_result(RootfsWithPath(tmp_path, "/sbin:/bin"), "iptables")
    assert result.status is Status.PASS
    assert result.evidence["found"] == [{"tool": "iptables", "path": "/sbin/iptables",
                                         "resolved": "/usr/sbin/xtables-nft-multi"}]


def test_a_link_out_of_the_root_or_a_plain_file_is_not_a_tool(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/ipset").symlink_to("/usr/bin/env")  # on the host, not in the root
    (tmp_path / "bin/conntrack").write_bytes(b"not executable")
    (tmp_path / "bin/nft").mkdir()
    result = tools_result(RootfsWithPath(tmp_path, "/bin"), "ipset", "conntrack", "nft")
    assert result.status is Status.FAIL
    assert result.evidence["missing"] == ["ipset", "conntrack", "nft"]
    assert "ipset, conntrack, nft" in result.message


def test_without_a_configured_path_dockers_default_is_searched(tmp_path):
    executable(tmp_path / "usr/local/sbin/ipset")
    result = tools_result(RootfsTarget(tmp_path), "ipset", "/opt/tool")
    assert result.status is Status.FAIL and result.evidence["missing"] == ["/opt/tool"]
    assert result.evidence["path_source"] == "default"
    assert result.evidence["found"][0]["path"] == "/usr/local/sbin/ipset"


def test_no_required_tools_is_not_applicable(tmp_path):
    [result] = scan(RootfsTarget(tmp_path), checks=["tools.required"]).checks
    assert result.status is Status.SKIP and "--fips-require-tool" in result.message


class KernelDouble(RootfsTarget):
    """A host whose kernel FIPS switch reads as given: a FIPS-mode kernel cannot be booted
    here, so this double stands in for one (and for a non-FIPS one, for symmetry)."""

    can_run = True
    own_kernel = True
    kind = "host"

    def __init__(self, directory: Path, fips_enabled: bytes | None) -> None:
        super().__init__(directory)
        self.fips_enabled = fips_enabled

    def exec(self, argv, env=None) -> ExecResult:
        assert argv == ["cat", "/proc/sys/crypto/fips_enabled"]
        if self.fips_enabled is None:
            return ExecResult(tuple(argv), 1, b"", b"cat: " + argv[1].encode() +
                              b": No such file or directory\n")
        return ExecResult(tuple(argv), 0, self.fips_enabled, b"")


@pytest.mark.parametrize(("value", "status", "words"), [
    (b"1\n", Status.PASS, "runs in FIPS mode"),
    (b"0\n", Status.FAIL, "fips=1"),
    (None, Status.FAIL, "CONFIG_CRYPTO_FIPS"),
])
def test_kernel_fips_on_a_host(tmp_path, value, status, words):
    [result] = scan(KernelDouble(tmp_path, value), checks=["kernel.fips"]).checks
    assert result.status is status and words in result.message
    assert result.evidence["fips_enabled"] == (value.decode().strip() if value else None)


def test_kernel_fips_unreadable_on_a_host_is_an_error(tmp_path):
    target = KernelDouble(tmp_path, b"")
    target.exec = lambda argv, env=None: ExecResult(tuple(argv), 126, b"", b"permission denied")
    [result] = scan(target, checks=["kernel.fips"]).checks
    assert result.status is Status.ERROR and "permission denied" in result.message
