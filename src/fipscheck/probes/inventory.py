"""One walk over the target's filesystem: every regular file counted, every ELF file opened
once and summarised (header, program interpreter, dynamic section, which sections it has,
and the crypto it carries itself). Probes that need to know about binaries start from this
inventory instead of walking again or opening the files again.

Speed and memory (bench/run): a summary is one tuple whose repeated parts (the same
dynamic section in many files) are shared, so memory grows by little more than the path per
ELF file. Large roots are analysed by worker processes (one per core) while this process
walks: the walk is split into batches of files, and the batches' results are taken in walk
order, so the inventory is the same as a serial one, item for item.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from ..elf import ET_DYN, ET_EXEC, HEAD, MAGIC, DynamicInfo, ElfError, ElfFile, SearchBudget
from ..errors import EvidenceError, mark_file, reading
from ..fs import Entry, WalkRecord
from ..workers import ordered_map
from .signatures import LIBCRYPTO_NAME, CryptoSignature, banners, carried_crypto, compiled_dirs

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..policy import Policy
    from ..runner import ScanContext

T = TypeVar("T")
BATCH = 256  # files per batch handed to a worker
SERIAL_FILES = 1024  # files analysed here before worker processes are worth starting
MAX_WORKERS = 4


# ElfSummary.flags
IS_DYNAMIC, HAS_SECTIONS, GO_BUILDINFO, LIBCRYPTO, NEEDS_LIBCRYPTO = 1, 2, 4, 8, 16


class OpenSSLBuild(NamedTuple):
    """What a libcrypto copy says about its own build."""

    banners: tuple[str, ...]  # version banners (and the CRYPTOGAMS credit)
    dirs: dict[str, str]  # OPENSSLDIR, MODULESDIR, ENGINESDIR compiled into it


class ElfSummary(NamedTuple):
    """What the checks need of one ELF file, in compact form (one tuple; the flags packed in
    one small int, each with its property)."""

    path: str
    bits: int
    machine: int
    type: int
    interpreter: str | None
    dynamic: DynamicInfo
    flags: int
    carried: CryptoSignature | None = None  # crypto it carries itself (signatures.carried_crypto)
    build: OpenSSLBuild | None = None  # for a libcrypto copy
    unsearched: str | None = None  # why its contents could not be searched

    def __reduce__(self) -> tuple[Callable[..., ElfSummary], tuple[Any, ...]]:
        # from a worker: shared parts shared again on arrival
        return _summary, tuple(self)

    @property
    def arch(self) -> tuple[int, int]:
        """What must match for the loader to accept one object into another's process."""
        return self.bits, self.machine

    # The flags' properties are methods, not properties built by a helper: a NamedTuple's
    # body may only hold fields and methods for a type checker.
    @property
    def is_dynamic(self) -> bool:
        """It has a dynamic segment."""
        return bool(self.flags & IS_DYNAMIC)

    @property
    def has_sections(self) -> bool:
        """It has section headers."""
        return bool(self.flags & HAS_SECTIONS)

    @property
    def go_buildinfo(self) -> bool:
        """It has a .go.buildinfo section: a Go program."""
        return bool(self.flags & GO_BUILDINFO)

    @property
    def is_libcrypto(self) -> bool:
        """Its SONAME, or else its file name, is a libcrypto's."""
        return bool(self.flags & LIBCRYPTO)

    @property
    def needs_libcrypto(self) -> bool:
        """It has a DT_NEEDED libcrypto (then a banner is only the version it was built with)."""
        return bool(self.flags & NEEDS_LIBCRYPTO)


@dataclass
class Inventory:
    files: int = 0
    elf: list[ElfSummary] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)  # path -> why it could not be read
    symlinks: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # devices, FIFOs, sockets: never opened
    undecodable: list[str] = field(default_factory=list)  # names that are not UTF-8
    walk: WalkRecord = field(default_factory=WalkRecord)  # what the walk left out, and why
    ignored: int = 0  # files the policy's ignore_paths leave out


class _Batch(NamedTuple):
    elf: list[ElfSummary]
    malformed: dict[str, str]
    unreadable: list[str]


def inventory(ctx: ScanContext) -> Inventory:
    fs = ctx.target.filesystem
    found = Inventory()
    _SHARED.clear()
    walk = fs.walk(skip_dirs=ctx.policy.skip_dirs, skip_files=ctx.policy.skip_files)
    for batch in _analysed(fs, _batches(walk, found, ctx.policy)):
        found.elf += batch.elf
        found.malformed.update(batch.malformed)
        found.unreadable += batch.unreadable
    found.unreadable[:0] = fs.unreadable
    found.walk = fs.walk_record()
    return found


def _batches(walk: Iterable[Entry], found: Inventory, policy: Policy) -> Iterator[list[str]]:
    """The walk, recording links, special files, odd names and what the policy ignores in
    ``found``, yielding the regular files in batches."""
    batch: list[str] = []
    for entry in walk:
        if policy.ignore_paths and policy.ignored(entry.path):
            found.ignored += not entry.is_dir
            continue
        if not entry.path.isprintable() and _undecodable(entry.path):
            found.undecodable.append(entry.path.encode("utf-8", "surrogateescape").decode(
                "utf-8", "backslashreplace"))
        if entry.is_symlink:
            found.symlinks.append(entry.path)
        elif entry.is_file:
            found.files += 1
            batch.append(entry.path)
            if len(batch) == BATCH:
                yield batch
                batch = []
        elif not entry.is_dir:
            found.special.append(entry.path)
    if batch:
        yield batch


def _analysed(fs: RootFilesystem, batches: Iterable[list[str]]) -> Iterator[_Batch]:
    """Each batch analysed, in order: the first SERIAL_FILES files here, the rest by
    worker processes when there are more and more than one core."""
    budget = SearchBudget()
    pending = iter(batches)
    done = 0
    workers = worker_count()
    for batch in pending:
        yield _analyse(fs, budget, batch)
        done += len(batch)
        if done >= SERIAL_FILES and workers > 1:
            break
    else:
        return
    yield from ordered_map(_analyse_in_worker, functools.partial(_worker_state, fs), pending,
                           workers)


def worker_count() -> int:
    """Worker processes for a large root: one per core this process may use (at most
    MAX_WORKERS), or ``FIPSCHECK_WORKERS`` (1: no workers at all)."""
    wanted = os.environ.get("FIPSCHECK_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def _worker_state(fs: RootFilesystem) -> tuple[RootFilesystem, SearchBudget]:
    return fs, SearchBudget()


def _analyse_in_worker(state: tuple[RootFilesystem, SearchBudget], batch: list[str]) -> _Batch:
    return _analyse(*state, batch)


def _analyse(fs: RootFilesystem, budget: SearchBudget, paths: list[str]) -> _Batch:
    found = _Batch([], {}, [])
    for path in paths:
        try:
            fd, size = fs.open_listed(path)
            try:
                head = os.pread(fd, HEAD, 0)
                if head.startswith(MAGIC):
                    with ElfFile(fd, budget, head, size) as elf:
                        found.elf.append(summarize(path, elf))
            finally:
                os.close(fd)
        except ElfError as error:
            found.malformed[path] = str(error)
        except (OSError, EvidenceError) as error:
            found.unreadable.append(f"{path}: {error}")
        except Exception as error:  # (no `with reading()`: its cost is per file, this is free)
            mark_file(error, path)
            raise
    return found


# Summaries' repeated parts, shared: many files have the same dynamic section (the same
# DT_NEEDED list) and interpreter. Cleared at the start of each inventory.
_SHARED: dict[object, object] = {}


def _shared(value: T) -> T:
    return cast(T, _SHARED.setdefault(value, value))  # each value is kept under itself


def _summary(path: str, bits: int, machine: int, kind: int, interpreter: str | None,
             dynamic: DynamicInfo, *rest: Any) -> ElfSummary:
    return ElfSummary(path, bits, machine, kind, _shared(interpreter), _shared(dynamic), *rest)


def _flags(path: str, elf: ElfFile, dynamic: DynamicInfo) -> int:
    name = dynamic.soname or path.rsplit("/", 1)[-1]
    flags = IS_DYNAMIC if elf.is_dynamic else 0
    if elf.has_sections:
        flags |= HAS_SECTIONS | (GO_BUILDINFO if elf.has_section(".go.buildinfo") else 0)
    if name.startswith("libcrypto") and LIBCRYPTO_NAME.match(name):
        flags |= LIBCRYPTO
    if any(n.startswith("libcrypto") and LIBCRYPTO_NAME.match(n) for n in dynamic.needed):
        flags |= NEEDS_LIBCRYPTO
    return flags


def summarize(path: str, elf: ElfFile) -> ElfSummary:
    """The summary of one ELF file, its contents searched: a libcrypto copy for its own
    build (banners, compiled-in directories), other programs and libraries for crypto they
    carry themselves. A failed search is kept with the summary, for the probe that needs it
    to report."""
    dynamic = _shared(elf.dynamic())
    flags = _flags(path, elf, dynamic)
    carried = build = unsearched = None
    try:
        if flags & LIBCRYPTO:
            build = OpenSSLBuild(tuple(banners(elf)), compiled_dirs(elf))
        elif _searched(elf.type, flags):
            carried = carried_crypto(elf, bool(flags & NEEDS_LIBCRYPTO))
    except (ElfError, OSError) as error:
        unsearched = str(error)
    return ElfSummary(path, elf.bits, elf.machine, elf.type, _shared(elf.interpreter), dynamic,
                      flags, carried, build, unsearched)


def openssl_build(elf: ElfSummary) -> OpenSSLBuild:
    """A libcrypto copy's build, as the inventory read it (raises ElfError when it could not
    be read)."""
    if elf.unsearched is not None:
        raise ElfError(elf.unsearched)
    if elf.build is None:
        raise ElfError(f"{elf.path} is not a libcrypto")
    return elf.build


def carried_by(fs: RootFilesystem, elf: ElfSummary, needs_libcrypto: bool) -> CryptoSignature | None:
    """The crypto an object carries, from its summary when it was searched the same way
    (raises ElfError or OSError when its contents could not be searched)."""
    if _searched(elf.type, elf.flags) and needs_libcrypto == elf.needs_libcrypto:
        if elf.unsearched is not None:
            raise ElfError(elf.unsearched)
        return elf.carried
    return read_elf(fs, elf.path, lambda e: carried_crypto(e, needs_libcrypto))


def _searched(kind: int, flags: int) -> bool:
    """Whether summarize searches an object for the crypto it carries: programs and shared
    objects, not Go programs or libcrypto copies (judged by go.fips-toolchain, as copies)."""
    return kind in (ET_EXEC, ET_DYN) and not flags & (GO_BUILDINFO | LIBCRYPTO)


def _undecodable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode kept the bytes as lone surrogates
        return True
    return False


def read_elf(fs: RootFilesystem, path: str, read: Callable[[ElfFile], T]) -> T:
    """Open one ELF file of the root again, for a probe that needs more than the summary."""
    with reading(path), fs.open(path) as f, ElfFile(f) as elf:
        return read(elf)
