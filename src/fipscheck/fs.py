"""A directory seen as the root of another system.

Every path is absolute within the root, and every symlink resolves inside it: an absolute
link target is taken from the root, ``..`` never climbs above it. The walk never follows
links, and opening a file refuses anything but a regular file, so devices, FIFOs and
sockets are never read. The resolver is written here because ``os.path.realpath`` and
``Path.resolve`` resolve against the host's ``/``, which is exactly what must not happen.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from . import progress
from .errors import EvidenceError, RootEscapeError

if TYPE_CHECKING:
    from io import FileIO

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


class SkippedFiles(TypedDict):
    count: int  # files left out by --skip-file globs
    first: list[str]  # the first of them by name


class WalkRecord(TypedDict, total=False):
    """What walks left out (``RootFilesystem.walk_record``)."""

    not_walked: dict[str, str]  # directory -> why it was not entered
    skipped_files: SkippedFiles


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
MAX_SKIPPED_LISTED = 50  # skipped files named in the record (all are counted)
# A directory holding these is the root of another system (a chroot, a debootstrap, an
# unpacked image, a container layer), not a part of the one being scanned.
ROOT_MARKERS = frozenset({"etc", "usr"})
ROOT_PROGRAM_DIRS = frozenset({"bin", "sbin", "lib"})


@dataclass(frozen=True)
class Entry:
    """One name found by the walk; ``path`` is absolute within the root, links unresolved;
    ``mode`` holds its file type (its permission bits only where the walk lstat'ed it)."""

    path: str
    mode: int

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


@dataclass(frozen=True)
class WalkScope:
    """What walks of a root leave out: directories are listed but not entered, each recorded
    with the reason (``RootFilesystem.not_walked``). Set by the target (a host's virtual and
    container filesystems); the user's ``--skip-dir``/``--skip-file`` globs come per walk."""

    prune: Mapping[str, str] = field(default_factory=dict)  # directory -> why it is left out
    one_filesystem: bool = False  # stay on the filesystem of the walk's top directory
    nested_roots: bool = False  # leave out directories holding another root (etc/, usr/, bin/)
    filesystem_names: Mapping[int, str] = field(default_factory=dict)  # st_dev -> mount's type


GLOB_HELP = "a glob of paths in the target, its * matching / too, or of names when it has no /"


def glob_matcher(globs: Iterable[str]) -> Callable[[str], bool] | None:
    """Whether a path matches any of the shell-style globs: one with a ``/`` is matched
    against the whole path in the root (its ``*`` crossing ``/``), one without against the
    name alone. None when there are no globs."""
    globs = list(globs)
    by_path = _any_of([g for g in globs if "/" in g])
    by_name = _any_of([g for g in globs if "/" not in g])
    if by_path is None and by_name is None:
        return None
    return lambda path: bool((by_path and by_path.match(path))
                             or (by_name and by_name.match(path.rsplit("/", 1)[-1])))


def _any_of(globs: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(fnmatch.translate, globs))) if globs else None


def _type_of(item: os.DirEntry[str]) -> int:
    """A name's file type from its directory entry (no lstat where the filesystem records
    types, as every Linux one does): a directory's, regular file's or symlink's mode bits,
    0 for any other type."""
    if item.is_symlink():
        return stat.S_IFLNK
    if item.is_dir(follow_symlinks=False):
        return stat.S_IFDIR
    return stat.S_IFREG if item.is_file(follow_symlinks=False) else 0


def _holds_a_root(entries: list[os.DirEntry[str]]) -> bool:
    names = {e.name for e in entries}
    return names >= ROOT_MARKERS and bool(names & ROOT_PROGRAM_DIRS)


class RootFilesystem:
    def __init__(self, root: str | os.PathLike[str], scope: WalkScope | None = None) -> None:
        self.root = Path(root)
        self.scope = scope or WalkScope()
        if not self.root.is_dir():
            raise EvidenceError(f"root {self.root} is not a directory")
        self._prefix = str(self.root).rstrip("/")
        self.unreadable: list[str] = []  # directories the walk could not list
        self.not_walked: dict[str, str] = {}  # directories listed but not entered -> why
        self.skipped_files = 0  # files left out by --skip-file globs ...
        self.skipped_listed: list[str] = []  # ... the first of them by name

    @property
    def prune(self) -> frozenset[str]:
        """Directories every walk lists but does not enter."""
        return frozenset(self.scope.prune)

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

    def open(self, path: str) -> FileIO:
        """Open a regular file for reading. A device is refused before it is opened (opening
        some has effects); O_NOFOLLOW guards the last component (resolved already),
        O_NONBLOCK keeps a FIFO swapped in meanwhile from hanging us until fstat rejects it."""
        host_path = self.host_path(path)
        mode = os.lstat(host_path).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, kind_of(mode))
        # Unbuffered: readers take a few exact bytes (ELF headers), never a buffer's worth.
        return os.fdopen(self._open_fd(host_path, path)[0], "rb", buffering=0)

    @staticmethod
    def _open_fd(host_path: str, path: str) -> tuple[int, int]:
        """The file opened (O_NOFOLLOW, O_NONBLOCK), with its size, if it is a regular file."""
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise NotAFileError(path, kind_of(st.st_mode))
        return fd, st.st_size

    def open_listed(self, path: str) -> tuple[int, int]:
        """Open a regular file the walk listed, without resolving its path again: a file
        descriptor the caller closes, and the file's size. The walk never descends through a
        link, so only the last component can be one, and O_NOFOLLOW refuses that; a file that
        is no longer a regular one raises NotAFileError. (Resolving every path costs one
        lstat per component; a file object per file costs as much as the read.)"""
        return self._open_fd(self._host(path), path)

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

    def walk(self, top: str = "/", skip_dirs: Iterable[str] = (),
             skip_files: Iterable[str] = ()) -> Iterator[Entry]:
        """Every name below ``top`` (itself resolved inside the root), depth first, links not
        followed. Directories that cannot be listed are remembered in ``unreadable``; those
        left out (the scope's, or matching a ``skip_dirs`` glob) are listed but not entered
        and remembered in ``not_walked``; files matching a ``skip_files`` glob are not listed."""
        start = self.resolve(top)
        skip_dir, skip_file = glob_matcher(skip_dirs), glob_matcher(skip_files)
        sizes = progress.shows_counts()  # the bytes listed are shown: every name is lstat'ed
        device = None
        if self.scope.one_filesystem:
            device = os.stat(self._host(start)).st_dev
        stack = [start]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(self._host(directory)) as it:
                    entries = list(it)
            except OSError:
                self.unreadable.append(directory)
                continue
            if self.scope.nested_roots and directory != start and _holds_a_root(entries):
                self.not_walked[directory] = "another root (it has etc/, usr/ and bin/ or lib/)"
                continue
            base = directory.rstrip("/")
            files = size = 0
            for item in entries:
                try:
                    # The type from the directory entry (an lstat per name is most of a
                    # walk's cost), unless an lstat is needed anyway: bytes to count, a
                    # directory's device to compare, a type other than these three.
                    mode = 0 if sizes else _type_of(item)
                    st = item.stat(follow_symlinks=False) if not mode or (
                        device is not None and mode == stat.S_IFDIR) else None
                except OSError:
                    self.unreadable.append(f"{base}/{item.name}")
                    continue
                if st is not None:
                    mode = st.st_mode
                entry = Entry(f"{base}/{item.name}", mode)
                if stat.S_ISDIR(mode):
                    why = self._left_out(entry.path, st.st_dev if st else 0, device, skip_dir)
                    if why is None:
                        stack.append(entry.path)
                    else:
                        self.not_walked[entry.path] = why
                elif skip_file is not None and skip_file(entry.path):
                    self.skipped_files += 1
                    if len(self.skipped_listed) < MAX_SKIPPED_LISTED:
                        self.skipped_listed.append(entry.path)
                    continue
                elif stat.S_ISREG(mode):
                    files, size = files + 1, size + (st.st_size if st else 0)
                yield entry
            progress.advance(files, size)

    def _left_out(self, path: str, dev: int, device: int | None,
                  skip_dir: Callable[[str], bool] | None) -> str | None:
        """Why a directory is not entered, or None."""
        scope = self.scope
        if path in scope.prune:
            return scope.prune[path]
        if skip_dir is not None and skip_dir(path):
            return "matches a --skip-dir glob"
        if device is not None and dev != device:
            kind = scope.filesystem_names.get(dev)
            return f"another filesystem ({kind})" if kind else "another filesystem"
        return None

    def walk_record(self) -> WalkRecord:
        """What walks left out, for evidence (empty when they left out nothing)."""
        record: WalkRecord = {}
        if self.not_walked:
            record["not_walked"] = dict(sorted(self.not_walked.items()))
        if self.skipped_files:
            record["skipped_files"] = {"count": self.skipped_files, "first": self.skipped_listed}
        return record
