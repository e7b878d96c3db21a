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

TMPFS = "/dev/shm"


def scratch_dir(needed: int) -> Path:
    """Where to unpack a filesystem of ``needed`` bytes (0: unknown): tmpfs when it has room
    to spare, else the temp directory. Measured (bench/read_image.py, 246 MiB image):
    unpacking to disk took 9.4 s and removing it 3.8 s, to tmpfs 3.7 s and 0.3 s; ``docker
    save`` alone took 3.5 s to stream, before its layers and whiteouts are applied, so the
    export of a created container stays."""
    try:
        room = os.statvfs(TMPFS)
        tmpfs_free = room.f_bavail * room.f_frsize
    except OSError:
        tmpfs_free = 0
    parent = TMPFS if tmpfs_free > max(4 * needed, 1 << 30) else None
    return Path(tempfile.mkdtemp(prefix="fipscheck-rootfs-", dir=parent))


@dataclass
class ExtractStats:
    files: int = 0
    bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (the SDK's export generator)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def extract(chunks: Iterable[bytes], dest: Path) -> ExtractStats:
    stats = ExtractStats()
    made_dirs = {""}  # root-relative directories this extraction created
    stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
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
    return stats


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
