"""Unpacking an exported image never writes outside its directory, whatever the tar holds."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from fipscheck import workdir
from fipscheck.errors import EvidenceError
from fipscheck.targets.export import Extraction, extract, scratch_dir


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return [raw[i:i + 1000] for i in range(0, len(raw), 1000)]  # arrives in chunks


def member(name: str, kind=tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755
    return info


@pytest.fixture
def outside(tmp_path):
    victim = tmp_path / "outside"
    victim.mkdir()
    return victim


def test_a_member_through_a_symlink_is_not_written(tmp_path, outside):
    dest = tmp_path / "root"
    dest.mkdir()
    stats = extract(tar_of((member("evil", tarfile.SYMTYPE, str(outside)), b""),
                           (member("evil/planted"), b"pwned")), dest)
    assert list(outside.iterdir()) == []
    assert stats.skipped == {"parent is not a directory": 1}
    assert (dest / "evil").is_symlink()


def test_dotdot_and_hardlinks_through_links_are_refused(tmp_path, outside):
    (outside / "secret").write_text("host file")
    dest = tmp_path / "root"
    dest.mkdir()
    stats = extract(tar_of((member("../escape"), b"x"),
                           (member("l", tarfile.SYMTYPE, str(outside)), b""),
                           (member("stolen", tarfile.LNKTYPE, "l/secret"), b"")), dest)
    assert not (tmp_path / "escape").exists()
    assert not (dest / "stolen").exists()
    assert stats.skipped == {"unsafe name": 1, "hard link to a missing or unsafe member": 1}


def test_regular_content_modes_and_special_files(tmp_path):
    dest = tmp_path / "root"
    dest.mkdir()
    suid = member("usr/bin/tool")
    suid.mode = 0o4755
    stats = extract(tar_of((member("usr/", tarfile.DIRTYPE), b""), (suid, b"ELF"),
                           (member("usr/bin/alias", tarfile.LNKTYPE, "usr/bin/tool"), b""),
                           (member("dev/null", tarfile.CHRTYPE), b"")), dest)
    assert (dest / "usr/bin/tool").read_bytes() == b"ELF"
    assert (dest / "usr/bin/tool").stat().st_mode & 0o7777 == 0o755  # set-id dropped
    assert (dest / "usr/bin/alias").stat().st_ino == (dest / "usr/bin/tool").stat().st_ino
    assert not (dest / "dev/null").exists()
    assert stats.files == 1 and stats.skipped == {"device, FIFO or other special file": 1}


@pytest.mark.parametrize("cut", ["between members", "inside a header", "inside a file",
                                 "half the end marker"])
def test_a_stream_cut_short_is_an_error_never_a_partial_root(tmp_path, cut):
    members = [(member(f"f{i}"), b"x" * 700) for i in range(3)]  # each 512 + 1024 bytes
    whole = b"".join(tar_of(*members))
    length = {"between members": 2 * 1536, "inside a header": 2 * 1536 + 300,
              "inside a file": 2 * 1536 + 600, "half the end marker": 3 * 1536 + 512}[cut]
    dest = tmp_path / "root"
    dest.mkdir()
    with pytest.raises(EvidenceError, match=r"end-of-archive marker|not a whole tar archive"):
        extract([whole[:length]], dest)
    assert extract([whole], tmp_path).files == 3  # the same stream whole is fine


def test_the_unpacked_root_goes_to_tmpfs_only_with_room_and_says_why(monkeypatch, tmp_path):
    monkeypatch.delenv("FIPSCHECK_TMPDIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    too_big = scratch_dir(1 << 60)
    assert too_big.medium == "disk" and "too little" in too_big.reason
    assert too_big.path.parent.parent == workdir.temp_base()
    room = os.statvfs(workdir.TMPFS)
    small = scratch_dir(1 << 20)
    assert small.medium == ("tmpfs" if room.f_bavail * room.f_frsize > 1 << 30 else "disk")
    assert small.to_dict()["reason"].startswith(f"{workdir.TMPFS} had ")
    monkeypatch.setenv("FIPSCHECK_TMPDIR", str(tmp_path))
    named = scratch_dir(1 << 20)
    assert named.medium == "disk" and named.path.parent.parent == tmp_path
    assert named.path.parent.name.startswith("fipscheck-run-")


def layer(dest, *members: tuple[tarfile.TarInfo, bytes], extraction=None):
    """Apply one layer (a tar stream) on top of what ``extraction`` unpacked before."""
    extraction = extraction or Extraction(dest)
    extraction.add(io.BufferedReader(io.BytesIO(b"".join(tar_of(*members)))), layer=True)
    return extraction


def test_whiteouts_through_links_remove_nothing_outside(tmp_path, outside):
    (outside / "secret").write_text("host file")
    (outside / "dir").mkdir()
    (outside / "dir" / "kept").write_text("host file")
    dest = tmp_path / "root"
    dest.mkdir()
    lower = layer(dest, (member("etc", tarfile.SYMTYPE, str(outside)), b""),
                  (member("rel", tarfile.SYMTYPE, "../../outside"), b""))
    layer(dest, (member("etc/.wh.secret"), b""), (member("etc/dir/.wh..wh..opq"), b""),
          (member("rel/.wh.secret"), b""), (member(".wh..."), b""), (member("etc/.wh.dir"), b""),
          extraction=lower)
    assert (outside / "secret").read_text() == "host file"
    assert (outside / "dir" / "kept").read_text() == "host file"
    assert lower.stats.skipped == {"whiteout below a link or a file": 4, "unsafe name": 1}
    assert (dest / "etc").is_symlink() and (dest / "rel").is_symlink()


def test_a_later_layer_replaces_a_link_by_a_directory_and_never_writes_through_it(tmp_path, outside):
    dest = tmp_path / "root"
    dest.mkdir()
    lower = layer(dest, (member("lib", tarfile.SYMTYPE, str(outside)), b""))
    directory = member("lib", tarfile.DIRTYPE)
    layer(dest, (directory, b""), (member("lib/libc.so.6"), b"ELF"), extraction=lower)
    assert list(outside.iterdir()) == []
    assert (dest / "lib").is_dir() and not (dest / "lib").is_symlink()
    assert (dest / "lib/libc.so.6").read_bytes() == b"ELF"


def test_opaque_directories_keep_what_their_own_layer_put_there(tmp_path):
    dest = tmp_path / "root"
    dest.mkdir()
    lower = layer(dest, (member("etc/ssl/old.cnf"), b"old"), (member("etc/ssl/certs/a.pem"), b"a"))
    layer(dest, (member("etc/ssl/new.cnf"), b"new"), (member("etc/ssl/.wh..wh..opq"), b""),
          (member("etc/.wh.missing"), b""), extraction=lower)
    assert sorted(p.name for p in (dest / "etc/ssl").iterdir()) == ["new.cnf"]
    assert lower.stats.whiteouts == 2 and lower.stats.skipped == {}


def test_long_names_later_members_and_modes_come_out_as_written(tmp_path, monkeypatch):
    """pax and GNU long names, a name given twice (the later member wins, a directory over a
    file too), and the image's permission bits exactly, whatever the umask."""
    long_dir = "usr/lib/" + "d" * 120
    members = [(member(f"{long_dir}/", tarfile.DIRTYPE), b"", tarfile.PAX_FORMAT),
               (member(f"{long_dir}/libcrypto.so.3"), b"ELF" * 5000, tarfile.PAX_FORMAT),
               (member("etc/ssl", tarfile.SYMTYPE, "x" * 150), b"", tarfile.PAX_FORMAT),
               (member("shared"), b"old", tarfile.USTAR_FORMAT),
               (member("shared"), b"new", tarfile.USTAR_FORMAT),
               (member("was-file"), b"file", tarfile.USTAR_FORMAT),
               (member("was-file/", tarfile.DIRTYPE), b"", tarfile.USTAR_FORMAT),
               (member("g" * 130, tarfile.LNKTYPE, f"{long_dir}/libcrypto.so.3"), b"",
                tarfile.GNU_FORMAT)]
    raw = b""
    for info, data, format in members:  # one archive, each member in its own format
        info.size, info.mode = len(data), 0o666 if info.isreg() else info.mode
        raw += info.tobuf(format, "utf-8", "surrogateescape") + data + bytes(-len(data) % 512)
    dest = tmp_path / "root"
    dest.mkdir()
    old = os.umask(0o077)
    try:
        stats = extract([raw[i:i + 700] for i in range(0, len(raw), 700)] + [bytes(1024)], dest)
    finally:
        os.umask(old)
    crypto = dest / long_dir / "libcrypto.so.3"
    assert crypto.read_bytes() == b"ELF" * 5000 and crypto.stat().st_mode & 0o777 == 0o666
    assert os.readlink(dest / "etc/ssl") == "x" * 150
    assert (dest / "shared").read_bytes() == b"new" and (dest / "was-file").is_dir()
    assert (dest / ("g" * 130)).stat().st_ino == crypto.stat().st_ino
    assert stats.files == 4 and stats.skipped == {}


def test_more_than_the_record_padding_after_the_end_marker_is_an_error(tmp_path):
    whole = b"".join(tar_of((member("f"), b"x")))
    with pytest.raises(EvidenceError, match="end-of-archive marker"):
        extract([whole + bytes(128 << 10)], tmp_path)
