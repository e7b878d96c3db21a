"""Unpack a container's exported filesystem (a tar stream) into a private directory, safely.

Written here rather than with ``tarfile.extractall``: its ``data`` filter refuses absolute
symlinks, which every Linux image has, and the ``fully_trusted`` one writes through links.
Safety comes from one rule: a member is only written under directories this extraction
created itself, so no path it writes can pass through a symlink; links are created as they
are (their targets are only ever resolved by RootFilesystem, inside the root). Device nodes,
FIFOs and members that would replace a directory are skipped and counted.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import workdir
from ..errors import EvidenceError

END_OF_ARCHIVE = 2 * tarfile.BLOCKSIZE  # two zero blocks close every tar archive
TAIL = 64 * 1024  # what may follow the last member: the end marker and record padding


@dataclass(frozen=True)
class Scratch:
    """Where an image's filesystem is unpacked, and why there (shown in the report)."""

    path: Path
    medium: str  # "tmpfs" or "disk"
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"unpacked_to": self.medium, "directory": str(self.path), "reason": self.reason}


def scratch_dir(needed: int) -> Scratch:
    """A new directory in this run's directory for a filesystem of ``needed`` bytes (0:
    unknown): in tmpfs when it has room to spare (four times the size, at least 1 GiB free),
    else on disk; a temp directory the user named (FIPSCHECK_TMPDIR, TMPDIR) always wins.
    Measured (bench/read_image.py, 246 MiB image): unpacking to disk took 9.4 s and removing
    it 3.8 s, to tmpfs 3.7 s and 0.3 s; ``docker save`` alone took 3.5 s to stream, before its
    layers and whiteouts are applied, so the export of a created container stays.
    Raises WorkdirError when the directory cannot be made."""
    if workdir.base_chosen_by_user():
        base, medium, reason = workdir.temp_base(), "disk", "FIPSCHECK_TMPDIR or TMPDIR names it"
    else:
        try:
            room = os.statvfs(workdir.TMPFS)
            free = room.f_bavail * room.f_frsize
        except OSError:
            free = 0
        fits = free > max(4 * needed, 1 << 30)
        base = workdir.TMPFS if fits else workdir.temp_base()
        medium = "tmpfs" if fits else "disk"
        reason = (f"{workdir.TMPFS} had {free >> 20} MiB free for an image of {needed >> 20} MiB "
                  f"({'enough' if fits else 'too little'}: it takes 4 times the size, at least 1 GiB)")
    parent = workdir.run_directory(base)
    try:
        path = Path(tempfile.mkdtemp(prefix="rootfs-", dir=parent))
    except OSError as error:
        raise workdir.WorkdirError(f"cannot make a directory in {parent}: "
                                   f"{error.strerror or error}") from None
    return Scratch(path, medium, reason)


@dataclass
class ExtractStats:
    files: int = 0
    bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (the SDK's export generator) that
    counts what it delivered and keeps the last TAIL bytes (to find the end marker)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._rest = b""
        self.total = 0
        self.tail = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        chunk = self._rest[:n]
        buffer[:n] = chunk
        self.tail += chunk[-TAIL:]
        del self.tail[:-TAIL]
        self._rest = self._rest[n:]
        self.total += n
        return n


def _require_end_marker(stream: io.BufferedReader, reader: _ChunkReader, end: int,
                        stats: ExtractStats) -> None:
    """A tar stream cut between members reads like a shorter archive: tarfile stops quietly
    at a missing, partial or garbled header. Only the end-of-archive marker after the last
    member tells a whole filesystem from a partial one."""
    while stream.read(1 << 20):
        pass
    trailing = reader.total - end
    if trailing < END_OF_ARCHIVE or trailing > TAIL or any(
            reader.tail[len(reader.tail) - trailing:][:END_OF_ARCHIVE]):
        raise EvidenceError(
            f"the filesystem export ended without tar's end-of-archive marker after "
            f"{stats.files} files ({reader.total} bytes): the stream was cut, so the root would "
            "be partial")


def extract(chunks: Iterable[bytes], dest: Path) -> ExtractStats:
    """Unpack the tar stream into ``dest``; raises EvidenceError when the stream is not one
    whole archive (cut short, corrupt)."""
    stats = ExtractStats()
    reader = _ChunkReader(chunks)
    stream = io.BufferedReader(reader, buffer_size=1 << 20)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            _extract_members(archive, dest, stats)
            _require_end_marker(stream, reader, archive.offset, stats)
    except tarfile.TarError as error:
        raise EvidenceError(f"the filesystem export is not a whole tar archive after "
                            f"{stats.files} files: {error}") from None
    return stats


def _extract_members(archive: tarfile.TarFile, dest: Path, stats: ExtractStats) -> None:
    made_dirs = {""}  # root-relative directories this extraction created
    for member in archive:
        parts = [p for p in member.name.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            stats.skip("unsafe name")
            continue
        rel = "/".join(parts)
        if not _make_parents(dest, parts[:-1], made_dirs):
            stats.skip("parent is not a directory")
            continue
        target = dest / rel
        if member.isdir():
            if rel in made_dirs:
                continue
            if os.path.lexists(target):
                stats.skip("directory over a file")
                continue
            os.mkdir(target, 0o755)
            made_dirs.add(rel)
            continue
        if rel in made_dirs:
            stats.skip("file over a directory")
            continue
        if os.path.lexists(target):
            os.unlink(target)  # a later member of the same name wins, as in tar
        if member.isreg():
            _write_file(archive, member, target)
            stats.files += 1
            stats.bytes += member.size
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            _hardlink(dest, member.linkname, target, made_dirs, stats)
        else:
            stats.skip("device, FIFO or other special file")


def _make_parents(dest: Path, parents: list[str], made_dirs: set[str]) -> bool:
    for depth in range(1, len(parents) + 1):
        rel = "/".join(parents[:depth])
        if rel in made_dirs:
            continue
        if os.path.lexists(dest / rel):
            return False  # exists but is not one of our directories: a file or a link
        os.mkdir(dest / rel, 0o755)
        made_dirs.add(rel)
    return True


def _write_file(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    mode = 0o644 | (member.mode & 0o111)  # keep exec bits (they matter to checks), drop set-id
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        source = archive.extractfile(member)
        if source is not None:
            shutil.copyfileobj(source, out, 1 << 20)


def _hardlink(dest: Path, linkname: str, target: Path, made_dirs: set[str],
              stats: ExtractStats) -> None:
    parts = [p for p in linkname.split("/") if p not in ("", ".")]
    source = dest / "/".join(parts)
    # The source must be a regular file under our own directories, never reached via a link.
    if (".." in parts or not parts or "/".join(parts[:-1]) not in made_dirs
            or os.path.islink(source) or not os.path.isfile(source)):
        stats.skip("hard link to a missing or unsafe member")
        return
    os.link(source, target, follow_symlinks=False)
