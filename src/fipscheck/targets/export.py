"""Unpack a container's exported filesystem (a tar stream), or an image's layers one after
another as an engine applies them, into a private directory, safely.

Written here rather than with ``tarfile.extractall``: its ``data`` filter refuses absolute
symlinks, which every Linux image has, and the ``fully_trusted`` one writes through links.
Safety comes from one rule: a member is only written under directories this extraction
created itself, so no path it writes can pass through a symlink; links are created as they
are (their targets are only ever resolved by RootFilesystem, inside the root). Device nodes
and FIFOs are skipped and counted.

Layers are applied as moby's ``UnpackLayer`` applies them: a ``.wh.NAME`` member removes NAME
of the layers below, ``.wh..wh..opq`` empties its directory of what the layers below put there,
a later member replaces an earlier one of the same name (a directory stays a directory and takes
the new mode), hard links may point at any file unpacked before. Removal follows the same rule
as writing: only below directories this extraction made, never through a link.
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
from typing import BinaryIO

from .. import workdir
from ..errors import EvidenceError, TargetError

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
    whiteouts: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


# Bounds on what one root may unpack to (a layer of zeros compresses a thousandfold).
MAX_BYTES = 64 << 30
MAX_MEMBERS = 5_000_000

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


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

    # BufferedReader, the only caller, passes a memoryview (RawIOBase declares any writable buffer)
    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
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


def _require_end_marker(stream: BinaryIO, reader: _ChunkReader, end: int,
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
    """Unpack one flattened filesystem (``docker export``) arriving as byte chunks; raises
    EvidenceError when the stream is not one whole archive (cut short, corrupt)."""
    reader = _ChunkReader(chunks)
    stream = io.BufferedReader(reader, buffer_size=1 << 20)
    extraction = Extraction(dest)
    try:
        end = extraction.add(stream)
        _require_end_marker(stream, reader, end, extraction.stats)
    except tarfile.TarError as error:
        raise EvidenceError(f"the filesystem export is not a whole tar archive after "
                            f"{extraction.stats.files} files: {error}") from None
    return extraction.stats


class Extraction:
    """One root being unpacked into ``dest`` (an empty directory of ours), from one tar
    stream or from an image's layers in order (``layer=True``: whiteouts apply)."""

    def __init__(self, dest: Path, max_bytes: int = MAX_BYTES, max_members: int = MAX_MEMBERS) -> None:
        self.dest = dest
        self.stats = ExtractStats()
        self._made_dirs = {""}  # root-relative directories this extraction created
        self._max_bytes, self._max_members = max_bytes, max_members
        self._members = 0

    def add(self, stream: BinaryIO, layer: bool = False) -> int:
        """Unpack one uncompressed tar stream, read to its end-of-archive marker; returns
        the offset in the stream where its last member ends."""
        this_layer: set[str] = set()  # what this layer unpacked: an opaque marker keeps it
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                self._members += 1
                if self._members > self._max_members:
                    raise TargetError(f"more than {self._max_members} files: not unpacked further")
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if not parts:
                    continue  # the root itself ("./"): ours already
                if ".." in parts:
                    self.stats.skip("unsafe name")
                    continue
                if layer and parts[-1].startswith(WHITEOUT):
                    self._whiteout(parts, this_layer)
                    continue
                if not self._make_parents(parts[:-1]):
                    self.stats.skip("parent is not a directory")
                    continue
                rel = "/".join(parts)
                this_layer.add(rel)
                self._member(archive, member, rel)
            return archive.offset

    def _member(self, archive: tarfile.TarFile, member: tarfile.TarInfo, rel: str) -> None:
        target = self.dest / rel
        if member.isdir():
            if rel not in self._made_dirs:
                self._remove(rel)
                os.mkdir(target)
                self._made_dirs.add(rel)
            os.chmod(target, 0o700 | (member.mode & 0o777))  # we must be able to enter it
            return
        self._remove(rel)  # a later member of the same name wins, as in tar and in layers
        if member.isreg():
            self.stats.bytes += member.size
            if self.stats.bytes > self._max_bytes:
                raise TargetError(f"the filesystem unpacks to more than {self._max_bytes >> 30} GiB: "
                                  "not unpacked further")
            _write_file(archive, member, target)
            self.stats.files += 1
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            self._hardlink(member.linkname, target)
        else:
            self.stats.skip("device, FIFO or other special file")

    def _whiteout(self, parts: list[str], this_layer: set[str]) -> None:
        name, parents = parts[-1], "/".join(parts[:-1])
        self.stats.whiteouts += 1
        if name != OPAQUE and name.startswith(WHITEOUT + WHITEOUT):
            return  # aufs metadata (.wh..wh.plnk, ...): not part of the filesystem
        if parents not in self._made_dirs:
            if os.path.lexists(self.dest / parents):
                self.stats.skip("whiteout below a link or a file")
            return  # otherwise nothing below to remove
        if name != OPAQUE:
            original = name[len(WHITEOUT):]
            if original in ("", ".", ".."):  # .wh... would name the parent of the directory
                self.stats.skip("unsafe name")
                return
            self._remove(f"{parents}/{original}" if parents else original)
            return
        stack = [parents]
        while stack:  # remove what lower layers put below the directory, keep this layer's
            directory = stack.pop()
            for child in os.listdir(self.dest / directory):
                rel = f"{directory}/{child}" if directory else child
                if rel not in this_layer:
                    self._remove(rel)
                elif rel in self._made_dirs:
                    stack.append(rel)

    def _remove(self, rel: str) -> None:
        """Remove a name whose parents are ours: a directory of ours with all it holds."""
        target = self.dest / rel
        if rel in self._made_dirs:
            shutil.rmtree(target)  # never follows links (fd-based on Linux)
            below = rel + "/"
            self._made_dirs = {d for d in self._made_dirs if d != rel and not d.startswith(below)}
        elif os.path.lexists(target):
            os.unlink(target)

    def _make_parents(self, parents: list[str]) -> bool:
        for depth in range(1, len(parents) + 1):
            rel = "/".join(parents[:depth])
            if rel in self._made_dirs:
                continue
            if os.path.lexists(self.dest / rel):
                return False  # exists but is not one of our directories: a file or a link
            os.mkdir(self.dest / rel, 0o755)
            self._made_dirs.add(rel)
        return True

    def _hardlink(self, linkname: str, target: Path) -> None:
        parts = [p for p in linkname.split("/") if p not in ("", ".")]
        source = self.dest / "/".join(parts)
        # The source must be a regular file under our own directories, never reached via a link.
        if (".." in parts or not parts or "/".join(parts[:-1]) not in self._made_dirs
                or os.path.islink(source) or not os.path.isfile(source)):
            self.stats.skip("hard link to a missing or unsafe member")
            return
        os.link(source, target, follow_symlinks=False)


def _write_file(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    # The image's permission bits, less set-id and sticky (nothing here is ever run), and
    # readable and writable by us (to read it, and to replace it in a later layer).
    mode = 0o600 | (member.mode & 0o777)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, mode)  # exactly these bits, whatever the umask
        source = archive.extractfile(member)
        if source is not None:
            shutil.copyfileobj(source, out, 1 << 20)
