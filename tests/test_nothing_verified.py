"""Nothing vacuous is a pass: a target whose passes prove nothing about a real system (no
files, no ELF objects, no libcrypto, no Go binary, no interpreter) is "nothing verified",
exit 2 with the reason, in every front end; a real system is still judged as before."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crafted import GO_FIPS_SETTINGS, go_binary, modinfo
from fipscheck.model import Status
from fipscheck.policy import Policy
from fipscheck.runner import scan, select_checks
from fipscheck.targets import RootfsTarget

FIPSCHECK = str(Path(sys.executable).with_name("fipscheck"))


def text_only(root: Path) -> Path:
    """Files, but no system: documents, and a "tool" that is a shell script no shell runs."""
    (root / "usr/share/doc").mkdir(parents=True)
    (root / "usr/share/doc/README").write_text("hello\n")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_text("#!/bin/sh\necho tool\n")
    (root / "usr/bin/tool").chmod(0o755)
    return root


@pytest.mark.parametrize("make", [lambda root: root, text_only], ids=["empty", "text-only"])
def test_a_root_without_a_system_is_nothing_verified(tmp_path, make):
    report = scan(RootfsTarget(make(tmp_path)), Policy(required_tools=("tool",)) if make is text_only
                  else None)
    assert report.verdict is Status.ERROR and report.exit_code == 2
    assert report.nothing_verified.startswith("nothing verified: no check saw a FIPS module at work")
    assert "go.fips-toolchain: no Go binary in the target" in report.nothing_verified
    assert "libraries.banned: no ELF object among the" in report.nothing_verified


def test_the_cli_exits_2_with_the_reason_in_text_and_json(tmp_path):
    done = subprocess.run([FIPSCHECK, "scan", "--rootfs", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[-1].startswith("verdict: ERROR (nothing verified: ")
    done = subprocess.run([FIPSCHECK, "scan", "--rootfs", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    assert done.returncode == 2 and report["verdict"] == "error"
    assert report["nothing_verified"].startswith("nothing verified: ")


def test_the_pytest_plugin_fails_the_session_with_the_reason(pytester, tmp_path):
    result = pytester.runpytest_subprocess(f"--fips-rootfs={tmp_path}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"rootfs:{tmp_path}: ERROR (*", "  nothing verified: *"])
    result.assert_outcomes(skipped=len(select_checks()))


def test_a_deselected_run_is_judged_by_its_items_only(pytester, tmp_path):
    result = pytester.runpytest_subprocess(f"--fips-rootfs={tmp_path}", "-k", "banned", "-p",
                                           "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK


def test_a_program_without_crypto_verifies_nothing_but_answers_a_question_of_absence(tmp_path):
    """A full scan of a root whose only program has no crypto saw no FIPS module at work; asked
    only whether banned crypto is there, the same root answers: it is not."""
    (tmp_path / "bin").mkdir()
    shutil.copy("/usr/bin/true", tmp_path / "bin/true")
    full = scan(RootfsTarget(tmp_path))
    assert full.verdict is Status.ERROR and "what passed shows only absence" in full.nothing_verified
    banned = scan(RootfsTarget(tmp_path), checks=["libraries.banned"])
    assert banned.verdict is Status.PASS and banned.exit_code == 0


def test_asked_only_about_absence_an_empty_root_still_verifies_nothing(tmp_path):
    report = scan(RootfsTarget(tmp_path), checks=["libraries.banned"])
    assert report.checks[0].status is Status.SKIP and report.exit_code == 2


def test_a_root_with_one_fips_go_program_is_a_real_system_and_passes(tmp_path):
    go_binary(tmp_path / "app", "server", modinfo(GO_FIPS_SETTINGS))
    report = scan(RootfsTarget(tmp_path))
    assert report.verdict is Status.PASS and report.nothing_verified is None, report.to_dict()
