"""Which libcrypto each program loads, resolved from ELF headers the way glibc's ld.so does,
inside the scanned root. Nothing from the target is run (no ``ldd``).

Per object, ld.so loads the DT_NEEDED closure breadth first. A name already loaded (as a
requested name or a SONAME) is not searched again, so one process never gets two files for
one name; each new name is searched in this order: DT_RPATH of the requesting object and of
the objects that loaded it (only those without DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH of
the requesting object, ``/etc/ld.so.cache``, the default directories (the last two skipped
under DF_1_NODEFLIB; the directories are the ones compiled into the program's own loader, see
``loader.loader_system_dirs``). Only candidates of the requesting program's architecture are
taken.

The libcrypto the FIPS provider belongs to: a libcrypto whose provider directory (the image's
OPENSSL_MODULES, else the MODULESDIR compiled into it) holds a ``fips.so`` of the same OpenSSL
version as the libcrypto's banner. That is the pair one OpenSSL build installs together; a
libcrypto of another version or with another module directory would not load that provider
(or would load it untested), so programs resolving to it are not using the FIPS module.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..elf import DF_1_NODEFLIB, DF_1_PIE, ET_DYN, ET_EXEC, ElfError
from ..errors import EvidenceError
from ..loader import LoaderConfig, loader_config
from .gobuild import go_programs
from .inventory import ElfSummary, carried_by, inventory, openssl_build, read_elf
from .signatures import (
    LIBCRYPTO_NAME,
    CryptoSignature,
    openssl_version,
    provider_version,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..fs import RootFilesystem
    from ..runner import ScanContext

DST = re.compile(r"\$(\{ORIGIN\}|ORIGIN)")


def is_libcrypto(elf: ElfSummary) -> bool:
    return elf.is_libcrypto


@dataclass(frozen=True)
class LibcryptoCopy:
    path: str
    version: str | None  # from its banner
    openssl_dir: str | None  # compiled in: where its default openssl.cnf lives
    modules_dir: str | None  # where it looks for providers
    engines_dir: str | None  # and for engines: both hold parts of its own build
    fips_module: str | None  # the fips.so there, if any
    fips_module_version: str | None

    @property
    def is_fips(self) -> bool:
        return bool(self.fips_module and self.version and self.version == self.fips_module_version)

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "version": self.version, "openssl_dir": self.openssl_dir,
                "modules_dir": self.modules_dir,
                "engines_dir": self.engines_dir,
                "fips_module": self.fips_module, "fips_module_version": self.fips_module_version}


def libcrypto_copies(ctx: ScanContext) -> list[LibcryptoCopy]:
    """Every libcrypto in the target, each with the FIPS provider it would load."""
    fs = ctx.target.filesystem
    modules_env = ctx.target.config.env.get("OPENSSL_MODULES")
    copies = []
    modules: dict[str, str | None] = {}  # provider module -> its version
    for elf in ctx.evidence(inventory).elf:
        if not is_libcrypto(elf):
            continue
        found, dirs = openssl_build(elf)
        versions = [v for v in map(openssl_version, found) if v]
        directory = modules_env or dirs.get("MODULESDIR")
        module = f"{directory.rstrip('/')}/fips.so" if directory else None
        module_version = None
        if module in modules:  # copies of one build share their provider directory
            module_version = modules[module]
        elif module and fs.is_file(module):
            try:
                module_version = modules[module] = read_elf(fs, module, provider_version)
            except (ElfError, OSError) as error:
                raise EvidenceError(f"cannot read the FIPS provider {module}: {error}") from None
        else:
            module = None
        copies.append(LibcryptoCopy(elf.path, versions[0] if versions else None,
                                    dirs.get("OPENSSLDIR"), directory, dirs.get("ENGINESDIR"), module,
                                    module_version))
    return copies


@dataclass
class Resolved:
    path: str
    found_by: str  # the search step that found it
    needed_by: str


@dataclass
class Closure:
    program: str
    libcrypto: list[Resolved] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (name, needed by)
    carried: CryptoSignature | None = None  # crypto linked in statically

    @property
    def needs_libcrypto(self) -> bool:
        return bool(self.libcrypto) or any(LIBCRYPTO_NAME.match(n) for n, _ in self.missing)


@dataclass
class Linkage:
    closures: list[Closure]  # programs and libraries that use crypto
    copies: list[LibcryptoCopy]
    loader_note: str
    loader_problems: list[str]  # what the loader's own files hold that a reader would not expect
    left_to_go: list[str]  # static Go programs: go.fips-toolchain judges them
    unresolved: list[tuple[str, str, str]]  # (object, needed name, needed by), any library
    malformed: dict[str, str]
    unreadable: list[str]


class Resolver:
    """ld.so's search, with the answers remembered: for one directory and name, and for one
    name searched in the same list of directories (most objects have no DT_RPATH or
    DT_RUNPATH, so one answer serves every object that needs that name)."""

    def __init__(self, fs: RootFilesystem, elves: list[ElfSummary], config: LoaderConfig,
                 ld_library_path: str) -> None:
        self.fs = fs
        self.by_path = {e.path: e for e in elves}
        self.config = config
        self.ld_library_path = tuple(d for d in re.split("[:;]", ld_library_path) if d.startswith("/"))
        self._seen: dict[str, str | None] = {}
        self._answers: dict[tuple[object, ...], tuple[ElfSummary, str] | None] = {}
        self._closures: dict[tuple[str, tuple[str, ...], tuple[int, int], str | None, int],
                             tuple[str, set[str], list[Resolved], list[tuple[str, str]]]] = {}
        self.libcrypto = {e.path for e in elves if e.is_libcrypto}

    def _candidate(self, directory: str, name: str, arch: tuple[int, int]) -> ElfSummary | None:
        path = f"{directory.rstrip('/')}/{name}"
        if path not in self._seen:
            try:
                self._seen[path] = self.fs.resolve(path)
            except (OSError, EvidenceError):
                self._seen[path] = None
        resolved = self._seen[path]
        elf = self.by_path.get(resolved) if resolved else None
        return elf if elf is not None and elf.arch == arch else None

    def _first(self, dirs: Iterable[str], name: str, arch: tuple[int, int],
               step: str) -> tuple[ElfSummary, str] | None:
        for directory in dirs:
            elf = self._candidate(directory, name, arch)
            if elf is not None:
                return elf, step
        return None

    def search(self, name: str, loader: ElfSummary, chain: list[ElfSummary],
               root: ElfSummary) -> tuple[ElfSummary, str] | None:
        """(object, step) for a DT_NEEDED name requested by ``loader``, whose loaders up to
        the program ``root`` are ``chain`` (``loader`` first), or None."""
        arch = root.arch
        if "/" in name:
            return self._first([posixpath.dirname(name) or "/"], posixpath.basename(name), arch,
                               "path in DT_NEEDED")
        steps = []
        if not loader.dynamic.runpath:
            for obj in chain:  # the requesting object, then the objects that loaded it
                if obj.dynamic.rpath and not obj.dynamic.runpath:
                    steps.append((_expand(obj.dynamic.rpath, obj.path), f"DT_RPATH of {obj.path}"))
        steps.append((self.ld_library_path, "LD_LIBRARY_PATH"))
        if loader.dynamic.runpath:
            steps.append((_expand(loader.dynamic.runpath, loader.path),
                          f"DT_RUNPATH of {loader.path}"))
        nodeflib = bool(loader.dynamic.flags_1 & DF_1_NODEFLIB)
        key = (name, arch, root.interpreter, nodeflib, *(step for step in steps if step[0]))
        if key not in self._answers:
            self._answers[key] = self._search(name, steps, nodeflib, arch, root.interpreter)
        return self._answers[key]

    def _search(self, name: str, steps: list[tuple[tuple[str, ...], str]], nodeflib: bool,
                arch: tuple[int, int], interpreter: str | None) -> tuple[ElfSummary, str] | None:
        for dirs, step in steps:
            hit = self._first(dirs, name, arch, step)
            if hit:
                return hit
        if nodeflib:
            return None
        if self.config.cache is not None:
            for path in self.config.cache.get(name, ()):
                hit = self._first([posixpath.dirname(path)], posixpath.basename(path), arch,
                                  "/etc/ld.so.cache")
                if hit:
                    return hit
        conf_step = "ld.so.conf (" + ("cache missing)" if self.config.cache is None
                                      else "not in the cache: stale)")
        system_dirs, system_step = self.config.system_dirs(interpreter, arch)
        return (self._first(self.config.conf_dirs, name, arch, conf_step)
                or self._first(system_dirs, name, arch, system_step))

    def libcrypto_closure(self, root: ElfSummary) -> tuple[list[Resolved], list[tuple[str, str]]]:
        """The libcrypto files loaded with ``root`` (how each was found, and for which
        object), and the names not found (with the object that needed them).

        Without DT_RPATH and DT_RUNPATH of its own, a program's closure depends only on its
        name, its DT_NEEDED list, its architecture and DF_1_NODEFLIB (every search is the
        same), so programs alike share one breadth-first walk, their own path put in where
        it appears. Not when the walk met the program itself: ld.so does not load a file
        twice, so there the path decides."""
        dynamic = root.dynamic
        key = None
        if not (dynamic.rpath or dynamic.runpath):
            # everything of the program that the walk depends on: a search that comes to
            # depend on more of it must add that here
            key = (dynamic.soname or posixpath.basename(root.path), dynamic.needed, root.arch,
                   root.interpreter, dynamic.flags_1 & DF_1_NODEFLIB)
            known = self._closures.get(key)
            if known is not None and root.path not in known[1]:
                first, _, libcrypto, missing = known
                return ([Resolved(r.path, r.found_by,
                                  root.path if r.needed_by == first else r.needed_by)
                         for r in libcrypto],
                        [(name, root.path if by == first else by) for name, by in missing])
        found, missing, met_itself = self._walk(root)
        libcrypto = [Resolved(obj.path, step, by) for obj, step, by in found
                     if obj.path in self.libcrypto]
        if key is not None and not met_itself:
            self._closures[key] = (root.path, {obj.path for obj, _, _ in found}, libcrypto, missing)
        return libcrypto, missing

    def closure(self, root: ElfSummary) -> tuple[list[tuple[ElfSummary, str, str]],
                                                  list[tuple[str, str]]]:
        """Every object loaded with ``root``, with the search step that found it and the
        object that needed it; names not found, with the object that needed them."""
        found, missing, _ = self._walk(root)
        return found, missing

    def _walk(self, root: ElfSummary) -> tuple[list[tuple[ElfSummary, str, str]],
                                               list[tuple[str, str]], bool]:
        """closure(), and whether the walk met the program itself under another name."""
        met_itself = False
        loaded = {root.dynamic.soname or posixpath.basename(root.path): root.path}
        loader_of: dict[str, ElfSummary | None] = {root.path: None}
        found: list[tuple[ElfSummary, str, str]] = []
        missing: list[tuple[str, str]] = []
        queue = deque([root])
        while queue:
            obj = queue.popleft()
            chain: list[ElfSummary] = []
            for name in obj.dynamic.needed:
                if name in loaded:
                    continue
                if not chain:
                    up: ElfSummary | None = obj
                    while up is not None:
                        chain.append(up)
                        up = loader_of[up.path]
                hit = self.search(name, obj, chain, root)
                if hit is None:
                    missing.append((name, obj.path))
                    continue
                elf, step = hit
                loaded[name] = elf.path
                if elf.path in loader_of:  # the same file under another name
                    met_itself = met_itself or elf.path == root.path
                    continue
                if elf.dynamic.soname:
                    loaded.setdefault(elf.dynamic.soname, elf.path)
                loader_of[elf.path] = obj
                found.append((elf, step, obj.path))
                queue.append(elf)
        return found, missing, met_itself


def _expand(dirs: tuple[str, ...], path: str) -> tuple[str, ...]:
    """Search directories of the object at ``path`` with $ORIGIN substituted; ones with other
    substitutions ($LIB, $PLATFORM) or relative ones are dropped, as they name no fixed place
    in the root. ld.so takes $ORIGIN from the directory it opened the object in, links
    unresolved; the resolved one differs only for symlinked directories."""
    origin = posixpath.dirname(path)
    expanded = (DST.sub(origin, d) for d in dirs)
    return tuple(d for d in expanded if d.startswith("/") and "$" not in d)


def _is_static_program(elf: ElfSummary) -> bool:
    """An executable no loader is asked to link: no interpreter, and not a library."""
    return elf.interpreter is None and (elf.type == ET_EXEC or bool(elf.dynamic.flags_1 & DF_1_PIE))


def library_resolver(ctx: ScanContext) -> Resolver:
    """ld.so's search over the target's files and environment: for the programs' DT_NEEDED
    closures here, and for what Go programs' OpenSSL backends dlopen (probes.gobackend)."""
    fs = ctx.target.filesystem
    files = ctx.evidence(inventory)
    config = loader_config(fs, [(e.interpreter, e.arch) for e in files.elf if e.interpreter])
    return Resolver(fs, files.elf, config, ctx.target.config.env.get("LD_LIBRARY_PATH", ""))


def linkage(ctx: ScanContext) -> Linkage:
    fs = ctx.target.filesystem
    files = ctx.evidence(inventory)
    resolver = ctx.evidence(library_resolver)
    config = resolver.config
    closures, left_to_go, unresolved = [], [], []
    go = ctx.evidence(go_programs)
    malformed = dict(files.malformed)
    for elf in files.elf:
        if elf.type not in (ET_EXEC, ET_DYN):
            continue
        if is_libcrypto(elf):
            continue  # a copy itself: libcrypto_copies describes it
        if _is_static_program(elf):
            if elf.path in go:
                left_to_go.append(elf.path)
                continue
            try:
                carried = carried_by(fs, elf, False)
            except (ElfError, OSError) as error:
                malformed[elf.path] = str(error)
                continue
            if carried:
                closures.append(Closure(elf.path, carried=carried))
            continue
        libcrypto, missing = resolver.libcrypto_closure(elf)
        unresolved += [(elf.path, name, by) for name, by in missing]
        closure = Closure(elf.path, libcrypto, missing)
        if closure.needs_libcrypto:
            closures.append(closure)
    return Linkage(closures, ctx.evidence(libcrypto_copies), config.cache_note, config.problems,
                   left_to_go, unresolved, malformed, list(files.unreadable))
