"""fipscheck-helper (native/fipscheck-helper.c), the shipped static binary: read as ELF and run
on this machine (and its aarch64 build under qemu-aarch64 when that is installed)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from fipscheck.elf import ET_EXEC, ElfFile
from fipscheck.native import helper_path

EM_X86_64, EM_AARCH64 = 62, 183
HELPER = str(helper_path("amd64"))


def helper(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([HELPER, *args], capture_output=True, timeout=timeout)


@pytest.mark.parametrize(("arch", "machine"), [("amd64", EM_X86_64), ("arm64", EM_AARCH64)])
def test_static_without_libc_or_loader(arch, machine):
    with open(helper_path(arch), "rb") as f:
        elf = ElfFile(f)
        assert (elf.machine, elf.type) == (machine, ET_EXEC)
        assert elf.interpreter is None and not elf.is_dynamic  # runs FROM scratch
        assert elf.size < 16 << 10


def test_run_passes_output_and_exit_code_through():
    done = helper("run", "10", "1000", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")
    killed = helper("run", "10", "1000", "--", "sh", "-c", "kill -9 $$")
    assert killed.returncode == 128 + 9


def test_run_kills_the_whole_group_at_the_deadline():
    started = time.monotonic()
    done = helper("run", "1", "1000", "--", "sh", "-c", "sleep 30 & sleep 30")
    assert done.returncode == 125
    assert done.stderr.splitlines()[-1] == (b"fipscheck-helper: limit: deadline of 1 s passed; the "
                                            b"command was killed")
    assert time.monotonic() - started < 20  # not the sleeps' 30 s: the group is gone


def test_run_caps_the_output():
    done = helper("run", "30", "100000", "--", "yes")
    assert done.returncode == 125 and len(done.stdout) == 100000
    assert done.stderr.endswith(b"limit: output cap of 100000 bytes reached; the command was killed\n")


def test_run_searches_path_and_names_what_it_cannot_run(tmp_path):
    missing = helper("run", "10", "1000", "--", "no-such-command-here")
    assert missing.returncode == 127
    assert missing.stderr == b"fipscheck-helper: cannot execute no-such-command-here: not found\n"
    assert b"No such file" not in missing.stderr  # probes read that phrase as a missing file
    data = tmp_path / "data"
    data.write_text("x")
    assert helper("run", "10", "1000", "--", str(data)).returncode == 127


def test_remove_deletes_files_and_their_empty_directory(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("a", "b"):
        (tmp_path / "d" / name).write_text(name)
    assert helper("remove", str(tmp_path / "d/a"), str(tmp_path / "d/b")).returncode == 0
    assert not (tmp_path / "d").exists()


def test_wait_ends_with_its_lease_and_bad_usage_exits_2():
    assert helper("wait", "0").returncode == 0
    assert helper("run", "x", "1", "--", "true").returncode == 2
    assert helper().stderr.startswith(b"fipscheck-helper: usage:")


@pytest.mark.skipif(shutil.which("qemu-aarch64") is None, reason="qemu-aarch64 is not installed")
def test_the_aarch64_build_runs_under_qemu():
    arm = str(helper_path("arm64"))
    assert subprocess.run(["qemu-aarch64", arm, "wait", "0"], timeout=60).returncode == 0
    done = subprocess.run(["qemu-aarch64", arm, "run", "5", "100", "--", "/no/such"],
                          capture_output=True, timeout=60)
    assert done.returncode == 127 and done.stderr.endswith(b"cannot execute /no/such: not found\n")
