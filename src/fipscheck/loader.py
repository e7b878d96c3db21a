"""What glibc's dynamic loader consults to find a shared object, read from a scanned root:
``/etc/ld.so.cache`` (its binary format), ``/etc/ld.so.conf`` with its includes (what
``ldconfig`` would put in the cache), and the default directories, read from the loader itself.

The cache is parsed here because no maintained Python library reads it; the layout follows
glibc's ``sysdeps/generic/dl-cache.h``: an optional old ``ld.so-1.7.0`` table, then the new
``glibc-ld.so.cache1.1`` header with 24-byte entries whose string offsets count from the new
header.
"""

from __future__ import annotations

import fnmatch
import re
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import EvidenceError, reading
from .fs import RootFilesystem

CACHE = "/etc/ld.so.cache"
OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
NEW_HEADER = struct.Struct("<20sII")  # magic+version, nlibs, len_strings
NEW_ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap
OLD_ENTRY_SIZE = 12  # flags, key, value (int32 each)
HEADER_SIZE = 48  # the new header, with flags, extension offset and padding
MAX_INCLUDE_DEPTH = 16
MAX_CACHE_BYTES = 64 << 20  # glibc's own caches are a few hundred KiB
MAX_CONF_BYTES = 1 << 20  # per ld.so.conf file
MAX_CONF_FILES = 256  # ld.so.conf and everything it includes

# Debian's multiarch directory names, per architecture (bits, e_machine).
MULTIARCH = {(64, 62): "x86_64-linux-gnu", (64, 183): "aarch64-linux-gnu",
             (32, 3): "i386-linux-gnu", (32, 40): "arm-linux-gnueabihf",
             (64, 21): "powerpc64le-linux-gnu", (64, 22): "s390x-linux-gnu"}

# glibc's ld.so searches last the SYSTEM_DIRS fixed when it was built, kept in the loader as one
# string of NUL-terminated directories with a trailing slash: Debian's x86-64 loader holds
# "/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0", Fedora's
# "/lib64/\0/usr/lib64/\0". Reading them from the root's own loader gets every distribution and
# architecture right; `ld.so --help` prints the same list.
# One directory of that string: it starts a printable run (the look-behind keeps a hostile file
# of slashes linear) and is at most 256 bytes long.
SYSTEM_DIR = re.compile(rb"(?<![!-~])/[!-~]{0,255}/\0")
MAX_SYSTEM_DIRS = 16
MAX_LOADER_SIZE = 16 << 20  # a glibc loader is a few hundred KiB
MAX_LOADERS = 8  # loaders read per root, the most used first (a root has one per architecture)


class LoaderConfigError(EvidenceError):
    """A loader file exists but cannot be read as what it claims to be."""


def default_dirs(arch: tuple[int, int]) -> tuple[str, ...]:
    """The system directories assumed when the root has no readable loader of ``arch``: the
    multiarch pair where Debian has one, then /lib64 and /usr/lib64 for 64-bit objects, then
    /lib and /usr/lib (a superset of what Debian's and Fedora's loaders search)."""
    triplet = MULTIARCH.get(arch)
    multiarch = (f"/lib/{triplet}", f"/usr/lib/{triplet}") if triplet else ()
    lib = ("/lib64", "/usr/lib64") if arch[0] == 64 else ("/lib", "/usr/lib")
    return (*multiarch, *lib) if arch[0] == 32 else (*multiarch, *lib, "/lib", "/usr/lib")


def loader_system_dirs(fs: RootFilesystem, loader: str) -> tuple[str, ...] | None:
    """The SYSTEM_DIRS compiled into a glibc loader of the root (None: not found in it): the
    first run of two or more adjacent directories, each naming a lib directory."""
    run: list[bytes] = []
    end = -1
    for match in SYSTEM_DIR.finditer(fs.read_bytes(loader, MAX_LOADER_SIZE)):
        if match.start() != end:  # not adjacent to the run so far: a new run begins
            if _system_dirs(run):
                break
            run = []
        if len(run) <= MAX_SYSTEM_DIRS:
            run.append(match.group(0)[:-2])  # without the trailing slash and NUL
        end = match.end()
    return _system_dirs(run)


def _system_dirs(run: list[bytes]) -> tuple[str, ...] | None:
    if 2 <= len(run) <= MAX_SYSTEM_DIRS and all(b"lib" in d for d in run):
        return tuple(d.decode("ascii") for d in run)
    return None


def parse_cache(data: bytes) -> dict[str, list[str]]:
    """Library name -> paths, in the cache's order (ld.so takes the first that fits). Any
    damage raises LoaderConfigError."""
    try:
        return _parse_cache(data)
    except struct.error as error:  # a structure runs past the end
        raise LoaderConfigError(f"{CACHE} is truncated: {error}") from None


def _parse_cache(data: bytes) -> dict[str, list[str]]:
    start = 0
    if data.startswith(OLD_MAGIC):
        (count,) = struct.unpack_from("<I", data, 12)
        start = 16 + count * OLD_ENTRY_SIZE
        start += -start % 8  # the new table is aligned after the old one
    if data[start:start + len(NEW_MAGIC)] != NEW_MAGIC:
        raise LoaderConfigError(f"{CACHE} has no {NEW_MAGIC.decode()} table")
    if len(data) < start + HEADER_SIZE:
        raise LoaderConfigError(f"{CACHE} is truncated in its header")
    _, nlibs, len_strings = NEW_HEADER.unpack_from(data, start)
    entries_end = start + HEADER_SIZE + nlibs * NEW_ENTRY.size
    if entries_end + len_strings > len(data):
        raise LoaderConfigError(f"{CACHE} claims {nlibs} entries and {len_strings} bytes of "
                                f"strings, more than its {len(data)} bytes")

    def string(offset: int) -> str:
        at = start + offset
        end = data.find(b"\0", at)
        if not entries_end <= at < len(data) or end < 0:
            raise LoaderConfigError(f"{CACHE} string offset {offset} is out of range")
        return data[at:end].decode("utf-8", "surrogateescape")

    found: dict[str, list[str]] = {}
    for i in range(nlibs):
        _flags, key, value, _os, _hwcap = NEW_ENTRY.unpack_from(data, start + HEADER_SIZE
                                                                + i * NEW_ENTRY.size)
        found.setdefault(string(key), []).append(string(value))
    return found


@dataclass
class LoaderConfig:
    """The search inputs that do not depend on the object being loaded."""

    cache: dict[str, list[str]] | None  # None: no usable cache in the root
    cache_note: str  # why the cache is or is not used
    conf_dirs: tuple[str, ...] = ()  # from ld.so.conf, used when the cache cannot answer
    problems: list[str] = field(default_factory=list)
    # per loader (a program's PT_INTERP, resolved in the root): its arch and system directories
    loaders: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = field(default_factory=dict)

    def system_dirs(self, interpreter: str | None, arch: tuple[int, int]) -> tuple[tuple[str, ...], str]:
        """The directories searched last for a program of ``arch`` run by ``interpreter`` (for
        a library: any loader of its arch), and where that list comes from."""
        if interpreter in self.loaders and self.loaders[interpreter][0] == arch:
            return self.loaders[interpreter][1], f"default directory of {interpreter}"
        for loader, (loader_arch, dirs) in sorted(self.loaders.items()):
            if loader_arch == arch:
                return dirs, f"default directory of {loader}"
        return default_dirs(arch), "default directory (assumed: no loader of this architecture)"


def read_conf(fs: RootFilesystem, path: str = "/etc/ld.so.conf",
              problems: list[str] | None = None) -> list[str]:
    """Directories listed by ld.so.conf, following ``include`` globs (as ldconfig does).
    ``problems`` collects what was read in a way a reader would not expect (NUL bytes)."""
    return _ConfReader(fs, [] if problems is None else problems).read(path, 0)


class _ConfReader:
    """ldconfig's parse_conf, bounded: each file read once (by where it resolves to), at
    most MAX_CONF_FILES files of MAX_CONF_BYTES, includes MAX_INCLUDE_DEPTH deep."""

    def __init__(self, fs: RootFilesystem, problems: list[str]) -> None:
        self.fs, self.problems = fs, problems
        self.seen: set[str] = set()

    def read(self, path: str, depth: int) -> list[str]:
        if depth > MAX_INCLUDE_DEPTH or not self.fs.is_file(path):
            return []
        with reading(path):
            resolved = self.fs.resolve(path)
            if resolved in self.seen:
                return []
            if len(self.seen) >= MAX_CONF_FILES:
                raise EvidenceError(f"ld.so.conf includes more than {MAX_CONF_FILES} files (the next "
                                    f"was {path}): fipscheck reads no more")
            self.seen.add(resolved)
            data = self.fs.read_bytes(path, MAX_CONF_BYTES + 1)
            if len(data) > MAX_CONF_BYTES:
                raise EvidenceError(f"{path} is larger than {MAX_CONF_BYTES} bytes: fipscheck reads "
                                    "no ld.so.conf file that large")
        dirs: list[str] = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            if b"\0" in raw:  # ldconfig's C strings end there
                self.problems.append(f"{path}:{number}: NUL byte: read up to it, as ldconfig does")
                raw = raw.split(b"\0", 1)[0]
            line = raw.decode("utf-8", "surrogateescape").split("#", 1)[0].strip()
            if line.startswith("include") and line[7:8] in (" ", "\t"):  # isblank()
                for pattern in line.split()[1:]:
                    if not pattern.startswith("/"):
                        pattern = path.rsplit("/", 1)[0] + "/" + pattern
                    for included in _glob(self.fs, pattern):
                        dirs += self.read(included, depth + 1)
            elif line and not line.startswith("hwcap"):
                dirs.append(line.split("=", 1)[0].rstrip("/") or "/")
        return dirs


def _glob(fs: RootFilesystem, pattern: str) -> list[str]:
    directory, name = pattern.rsplit("/", 1)
    try:
        names = fs.listdir(directory or "/")
    except (OSError, EvidenceError):
        return []
    return sorted(f"{directory}/{n}" for n in names if fnmatch.fnmatchcase(n, name))


def loader_config(fs: RootFilesystem,
                  loaders: Iterable[tuple[str, tuple[int, int]]] = ()) -> LoaderConfig:
    """The root's loader inputs; ``loaders``: (path, arch) of the loader each program names
    (PT_INTERP), whose system directories are read (of the MAX_LOADERS most named)."""
    config = _cache_config(fs)
    for (path, arch), _ in Counter(loaders).most_common(MAX_LOADERS):
        try:
            dirs = loader_system_dirs(fs, path)
        except (OSError, EvidenceError) as error:
            config.problems.append(f"cannot read the loader {path}: {error}")
            continue
        if dirs:
            config.loaders[path] = (arch, dirs)
    return config


def _cache_config(fs: RootFilesystem) -> LoaderConfig:
    """The cache and ld.so.conf of the root. A cache that is not a regular file (a FIFO: ld.so
    would read what a process writes into it) or too large to read raises EvidenceError."""
    problems: list[str] = []
    conf_dirs = tuple(dict.fromkeys(read_conf(fs, problems=problems)))
    if fs.kind(CACHE) is None:
        return LoaderConfig(None, f"{CACHE} is missing: ld.so.conf directories stand in for it",
                            conf_dirs, problems)
    with reading(CACHE):
        data = fs.read_bytes(CACHE, MAX_CACHE_BYTES + 1)
    if len(data) > MAX_CACHE_BYTES:
        raise EvidenceError(f"{CACHE} is larger than {MAX_CACHE_BYTES} bytes: fipscheck reads no "
                            "loader cache that large")
    try:
        cache = parse_cache(data)
    except LoaderConfigError as error:
        return LoaderConfig(None, f"{CACHE} is unusable ({error}): ld.so.conf directories "
                            "stand in for it", conf_dirs, [*problems, str(error)])
    return LoaderConfig(cache, f"{CACHE} with {sum(map(len, cache.values()))} entries", conf_dirs,
                        problems)
