"""A directory seen as the root of another system.

Every path is absolute within the root, and every symlink resolves inside it: an absolute
link target is taken from the root, ``..`` never climbs above it. The walk never follows
links, and opening a file refuses anything but a regular file, so devices, FIFOs and
sockets are never read. The resolver is written here because ``os.path.realpath`` and
``Path.resolve`` resolve against the host's ``/``, which is exactly what must not happen.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import EvidenceError, RootEscapeError

MAX_SYMLINKS = 40  # as Linux's path walk allows
# What a name is, for the reasons given when fipscheck will not read it.
KINDS = ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"),
         (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
         (stat.S_ISBLK, "block device"))
# Why a reader refuses each kind that is not a regular file.
REFUSED = {
    "FIFO": "never opened: a process in the target could write anything into it at run time, "
            "and opening it blocks until one does",
    "socket": "never opened: what it answers is decided at run time",
    "character device": "never opened: opening a device can have effects",
    "block device": "never opened: opening a device can have effects",
    "directory": "not a file",
}


def kind_of(mode: int) -> str:
    """``mode``'s file type in words ("regular file", "FIFO", ...)."""
    return next((name for test, name in KINDS if test(mode)), f"file of type {stat.S_IFMT(mode):o}")


class NotAFileError(EvidenceError):
    """A reader was pointed at something that is not a regular file (a FIFO, a device, a
    directory): it is never opened, and the message says what it is."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"{path} is a {kind}, not a regular file ({REFUSED.get(kind, 'never opened')})")
        self.path, self.kind = path, kind


def _no_nul(path: str) -> str:
    if "\0" in path:  # no file has such a name; os calls would raise a bare ValueError
        raise EvidenceError(f"{path!r} contains a NUL byte: no file can have that name")
    return path


@dataclass(frozen=True)
class Entry:
    """One name found by the walk; ``path`` is absolute within the root, links unresolved."""

    path: str
    mode: int
    size: int

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class RootFilesystem:
    def __init__(self, root: str | os.PathLike[str], prune: tuple[str, ...] = ()) -> None:
        self.root = Path(root)
        self.prune = frozenset(prune)  # directories the walk lists but does not enter
        if not self.root.is_dir():
            raise EvidenceError(f"root {self.root} is not a directory")
        self._prefix = str(self.root).rstrip("/")
        self.unreadable: list[str] = []  # directories the walk could not list

    def _host(self, path: str) -> str:
        # Plain concatenation (called once per file and per resolved component).
        return f"{self._prefix}/{path.lstrip('/')}"

    def resolve(self, path: str) -> str:
        """The path with every symlink resolved inside the root; the last component may be
        missing. Raises RootEscapeError on a symlink loop, EvidenceError on a NUL byte."""
        pending = [p for p in _no_nul(path).split("/") if p][::-1]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join([*done, part])
            try:
                st = os.lstat(self._host(candidate))
            except FileNotFoundError:
                done.append(part)
                continue
            except NotADirectoryError:
                raise FileNotFoundError(errno.ENOTDIR, "not a directory", candidate) from None
            if not stat.S_ISLNK(st.st_mode):
                done.append(part)
                continue
            hops += 1
            if hops > MAX_SYMLINKS:
                raise RootEscapeError(f"symlink loop resolving {path!r} inside {self.root}")
            target = os.readlink(self._host(candidate))
            if target.startswith("/"):
                done = []
            pending.extend(p for p in reversed(target.split("/")) if p)
        return "/" + "/".join(done)

    def host_path(self, path: str) -> str:
        """Where the resolved path lives on the host, for reading it (never for executing)."""
        return self._host(self.resolve(path))

    def exists(self, path: str) -> bool:
        try:
            return os.path.lexists(self.host_path(path))
        except (OSError, EvidenceError):
            return False

    def is_file(self, path: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.host_path(path)).st_mode)
        except (OSError, EvidenceError):
            return False

    def kind(self, path: str) -> str | None:
        """What ``path`` resolves to inside the root ("regular file", "directory", "FIFO",
        ...), or None when nothing is there. Unlike ``exists`` and ``is_file`` it does not
        hide why a path cannot be examined: a symlink loop or a NUL byte raises."""
        try:
            return kind_of(os.lstat(self.host_path(path)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:  # the host's path would only repeat the root's
            raise EvidenceError(f"cannot examine {path}: {error.strerror or error}") from None

    def open(self, path: str):
        """Open a regular file for reading. A device is refused before it is opened (opening
        some has effects); O_NOFOLLOW guards the last component (resolved already),
        O_NONBLOCK keeps a FIFO swapped in meanwhile from hanging us until fstat rejects it."""
        host_path = self.host_path(path)
        mode = os.lstat(host_path).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, kind_of(mode))
        # Unbuffered: readers take a few exact bytes (ELF headers), never a buffer's worth.
        return os.fdopen(self._open_fd(host_path, path), "rb", buffering=0)

    @staticmethod
    def _open_fd(host_path: str, path: str) -> int:
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise NotAFileError(path, kind_of(mode))
        return fd


    def open_entry(self, entry: Entry) -> int:
        """Open a regular file the walk listed, without resolving its path again, as a file
        descriptor the caller closes: the walk never descends through a link, so only the
        last component can be one, and O_NOFOLLOW refuses that. (Resolving every path costs
        one lstat per component; a file object per file costs as much as the read.)"""
        if not entry.is_file:
            raise NotAFileError(entry.path, kind_of(entry.mode))
        return self._open_fd(self._host(entry.path), entry.path)

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        with self.open(path) as f:
            return f.read() if limit is None else f.read(limit)

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8", errors="replace")

    def readlink(self, path: str) -> str:
        return os.readlink(self._host(path))

    def listdir(self, path: str) -> list[str]:
        return os.listdir(self.host_path(path))

    def executable(self, path: str) -> str | None:
        """The file ``path`` resolves to (inside the root) if it is an executable regular
        file, else None; an error other than its absence raises EvidenceError."""
        try:
            resolved = self.resolve(path)
            mode = os.stat(self._host(resolved), follow_symlinks=False).st_mode
        except FileNotFoundError:
            return None
        except EvidenceError:
            raise
        except OSError as error:
            raise EvidenceError(f"cannot examine {path}: {error}") from None
        return resolved if stat.S_ISREG(mode) and mode & 0o111 else None

    def walk(self, top: str = "/") -> Iterator[Entry]:
        """Every name below ``top`` (itself resolved inside the root), depth first, links not
        followed. Directories that cannot be listed are remembered in ``unreadable``."""
        start = self.resolve(top)
        stack = [start]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(self._host(directory)) as it:
                    entries = list(it)
            except OSError:
                self.unreadable.append(directory)
                continue
            base = directory.rstrip("/")
            for item in entries:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    self.unreadable.append(f"{base}/{item.name}")
                    continue
                entry = Entry(f"{base}/{item.name}", st.st_mode, st.st_size)
                if stat.S_ISDIR(st.st_mode) and entry.path not in self.prune:
                    stack.append(entry.path)
                yield entry
