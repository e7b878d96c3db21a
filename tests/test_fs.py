"""RootFilesystem keeps every path inside the scanned root."""

from __future__ import annotations

import io
import os
import shutil
import socket
import stat

import pytest

from fipscheck import progress
from fipscheck.errors import EvidenceError, RootEscapeError
from fipscheck.fs import RootFilesystem, WalkScope
from fipscheck.model import Status
from fipscheck.probes.inventory import inventory
from fipscheck.runner import ScanContext, scan
from fipscheck.targets.rootfs import RootfsTarget


@pytest.fixture
def root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("inside\n")
    (tmp_path / "lib").mkdir()
    return tmp_path


def test_absolute_link_resolves_from_the_root(root):
    os.symlink("/etc/passwd", root / "lib/abs")
    fs = RootFilesystem(root)
    assert fs.resolve("/lib/abs") == "/etc/passwd"
    assert fs.read_text("/lib/abs") == "inside\n"


def test_dotdot_never_climbs_above_the_root(root):
    os.symlink("../../../../../../etc/passwd", root / "lib/up")
    fs = RootFilesystem(root)
    assert fs.resolve("/lib/up") == "/etc/passwd"
    assert fs.read_text("/../../etc/passwd") == "inside\n"


def test_link_through_a_linked_directory_stays_inside(root):
    os.symlink("/", root / "lib/top")
    os.symlink("/lib/top/lib/top/etc", root / "etc2")
    assert RootFilesystem(root).read_text("/etc2/passwd") == "inside\n"


def test_loops_are_an_error_not_a_hang(root):
    os.symlink("b", root / "lib/a")
    os.symlink("a", root / "lib/b")
    with pytest.raises(RootEscapeError):
        RootFilesystem(root).resolve("/lib/a")


def test_special_files_are_never_read(root):
    os.mkfifo(root / "lib/fifo")
    with pytest.raises(EvidenceError):
        RootFilesystem(root).read_bytes("/lib/fifo")


def test_walk_lists_links_without_following_them(root):
    os.symlink("/", root / "lib/top")
    paths = {e.path: e for e in RootFilesystem(root).walk()}
    assert paths["/lib/top"].is_symlink
    assert not any(p.startswith("/lib/top/") for p in paths)
    assert paths["/etc/passwd"].is_file


def test_non_utf8_names_are_walked_and_read(root):
    name = os.fsdecode(b"lib/\xff\xfe.so")
    (root / name).write_bytes(b"x")
    fs = RootFilesystem(root)
    assert "/" + name in {e.path for e in fs.walk()}
    assert fs.read_bytes("/" + name) == b"x"


def test_walk_lists_but_does_not_enter_pruned_directories(tmp_path):
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/environ").write_text("SECRET=1")
    (tmp_path / "usr/lib").mkdir(parents=True)
    fs = RootFilesystem(tmp_path, WalkScope(prune={"/proc": "a virtual filesystem"}))
    assert {e.path for e in fs.walk()} == {"/proc", "/usr", "/usr/lib"}
    assert fs.walk_record() == {"not_walked": {"/proc": "a virtual filesystem"}}


@pytest.fixture
def hostile(tmp_path):
    """A root with everything a scan must survive: a device, a FIFO, a socket, link loops,
    links out of the root, a non-UTF-8 name, a truncated ELF file and a real program."""
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    os.mknod(root / "dev/zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    os.mkfifo(root / "dev/fifo")
    cwd = os.getcwd()
    os.chdir(root / "dev")  # a socket path must be short: bind it relative
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("sock")
        sock.close()
    finally:
        os.chdir(cwd)
    os.symlink("loop", root / "usr/bin/loop")
    os.symlink("/usr/bin/../../../..", root / "usr/bin/up")
    os.symlink("/etc/shadow", root / "usr/bin/shadow")  # the host has one, the root has not
    (root / os.fsdecode(b"usr/bin/\xff\xfename")).write_bytes(b"\x7fELF\x02\x01\x01")
    shutil.copy("/usr/bin/true", root / "usr/bin/true")
    return root


def test_hostile_root_is_walked_reported_and_never_left(hostile):
    found = ScanContext(RootfsTarget(hostile)).evidence(inventory)
    assert sorted(found.special) == ["/dev/fifo", "/dev/sock", "/dev/zero"]
    assert found.undecodable == ["/usr/bin/\\xff\\xfename"]
    assert [e.path for e in found.elf] == ["/usr/bin/true"]
    assert list(found.malformed) == [os.fsdecode(b"/usr/bin/\xff\xfename")]
    fs = RootFilesystem(hostile)
    assert fs.resolve("/usr/bin/up") == "/"
    assert not fs.exists("/usr/bin/shadow")
    with pytest.raises(RootEscapeError):
        fs.resolve("/usr/bin/loop/x")
    for special in ("/dev/zero", "/dev/fifo", "/dev/sock"):
        with pytest.raises(EvidenceError):
            fs.open(special)


def test_hostile_root_scans_to_an_error_not_a_crash(hostile):
    report = scan(RootfsTarget(hostile), checks=["linkage.libcrypto", "libraries.banned"])
    for result in report.checks:
        assert result.status is Status.ERROR, result


def test_a_walk_sees_the_same_types_whether_or_not_it_counts_bytes(root, monkeypatch):
    """Without progress to show, types come from the directory entries (no lstat per name);
    with it, from lstat: the walk lists the same names with the same types either way."""
    os.symlink("/etc/passwd", root / "lib/link")
    os.mkfifo(root / "lib/fifo")
    monkeypatch.chdir(root / "lib")  # a socket path must be short: bound relative
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("socket")

    def listed() -> list[tuple[str, int]]:
        return sorted((e.path, stat.S_IFMT(e.mode)) for e in RootFilesystem(root).walk())

    quiet = listed()
    with progress.reporting(io.StringIO(), progress.VERBOSE):
        assert progress.shows_counts()
        counted = listed()
    assert not progress.shows_counts()
    assert quiet == counted
    assert ("/lib/fifo", stat.S_IFIFO) in quiet and ("/lib/socket", stat.S_IFSOCK) in quiet
    assert ("/lib/link", stat.S_IFLNK) in quiet and ("/lib", stat.S_IFDIR) in quiet
    assert ("/etc/passwd", stat.S_IFREG) in quiet
