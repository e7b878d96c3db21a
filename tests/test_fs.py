"""RootFilesystem keeps every path inside the scanned root."""

from __future__ import annotations

import os

import pytest

from fipscheck.errors import EvidenceError, RootEscapeError
from fipscheck.fs import RootFilesystem


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
    paths = {e.path for e in RootFilesystem(tmp_path, prune=("/proc",)).walk()}
    assert paths == {"/proc", "/usr", "/usr/lib"}
