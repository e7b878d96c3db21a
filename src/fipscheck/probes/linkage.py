"""Which libcrypto each program loads, resolved from ELF headers the way glibc's ld.so does,
inside the scanned root. Nothing from the target is run (no ``ldd``).

Per object, ld.so loads the DT_NEEDED closure breadth first. A name already loaded (as a
requested name or a SONAME) is not searched again, so one process never gets two files for
one name; each new name is searched in this order: DT_RPATH of the requesting object and of
the objects that loaded it (only those without DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH of
the requesting object, ``/etc/ld.so.cache``, the default directories (the last two skipped
under DF_1_NODEFLIB). Only candidates of the requesting program's architecture are taken.

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
from ..loader import LoaderConfig, default_dirs, loader_config
from .gobuild import go_programs
from .inventory import ElfSummary, inventory, read_elf
from .signatures import (
    LIBCRYPTO_NAME,
    CryptoSignature,
    banners,
    carried_crypto,
    compiled_dirs,
    openssl_version,
    provider_version,
)

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

DST = re.compile(r"\$(\{ORIGIN\}|ORIGIN)")


def is_libcrypto(elf: ElfSummary) -> bool:
    return bool(LIBCRYPTO_NAME.match(elf.dynamic.soname or posixpath.basename(elf.path)))


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
    for elf in ctx.evidence(inventory).elf:
        if not is_libcrypto(elf):
            continue
        found, dirs = read_elf(fs, elf.path, lambda e: (banners(e), compiled_dirs(e)))
        versions = [v for v in map(openssl_version, found) if v]
        directory = modules_env or dirs.get("MODULESDIR")
        module = f"{directory.rstrip('/')}/fips.so" if directory else None
        module_version = None
        if module and fs.is_file(module):
            try:
                module_version = read_elf(fs, module, provider_version)
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
    left_to_go: list[str]  # static Go programs: go.fips-toolchain judges them
    unresolved: list[tuple[str, str, str]]  # (object, needed name, needed by), any library
    malformed: dict[str, str]
    unreadable: list[str]


class Resolver:
    """ld.so's search, with the answers for one directory and name remembered."""

    def __init__(self, fs: RootFilesystem, elves: list[ElfSummary], config: LoaderConfig,
                 ld_library_path: str) -> None:
        self.fs = fs
        self.by_path = {e.path: e for e in elves}
        self.config = config
        self.ld_library_path = [d for d in re.split("[:;]", ld_library_path) if d.startswith("/")]
        self._seen: dict[str, str | None] = {}

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

    def _first(self, dirs, name: str, arch: tuple[int, int], step: str):
        for directory in dirs:
            elf = self._candidate(directory, name, arch)
            if elf is not None:
                return elf, step
        return None

    def search(self, name: str, loader: ElfSummary, origin: dict[str, str],
               chain: list[ElfSummary], arch: tuple[int, int]):
        """(object, step) for a DT_NEEDED name requested by ``loader``, or None."""
        if "/" in name:
            return self._first([posixpath.dirname(name) or "/"], posixpath.basename(name), arch,
                               "path in DT_NEEDED")
        steps = []
        if not loader.dynamic.runpath:
            for obj in chain:  # the requesting object, then the objects that loaded it
                if obj.dynamic.rpath and not obj.dynamic.runpath:
                    steps.append((_expand(obj.dynamic.rpath, origin[obj.path]),
                                  f"DT_RPATH of {obj.path}"))
        steps.append((self.ld_library_path, "LD_LIBRARY_PATH"))
        steps.append((_expand(loader.dynamic.runpath, origin[loader.path]),
                      f"DT_RUNPATH of {loader.path}"))
        for dirs, step in steps:
            hit = self._first(dirs, name, arch, step)
            if hit:
                return hit
        if loader.dynamic.flags_1 & DF_1_NODEFLIB:
            return None
        if self.config.cache is not None:
            for path in self.config.cache.get(name, ()):
                hit = self._first([posixpath.dirname(path)], posixpath.basename(path), arch,
                                  "/etc/ld.so.cache")
                if hit:
                    return hit
        conf_step = "ld.so.conf (" + ("cache missing)" if self.config.cache is None
                                      else "not in the cache: stale)")
        return (self._first(self.config.conf_dirs, name, arch, conf_step)
                or self._first(default_dirs(arch), name, arch, "default directory"))

    def closure(self, root: ElfSummary) -> tuple[list[tuple[ElfSummary, Resolved]],
                                                  list[tuple[str, str]]]:
        """Every object loaded with ``root`` and how it was found; names not found."""
        loaded = {root.dynamic.soname or posixpath.basename(root.path): root.path}
        loader_of: dict[str, ElfSummary | None] = {root.path: None}
        origin = {root.path: posixpath.dirname(root.path)}
        found, missing = [], []
        queue = deque([root])
        while queue:
            obj = queue.popleft()
            chain, up = [], obj
            while up is not None:
                chain.append(up)
                up = loader_of[up.path]
            for name in obj.dynamic.needed:
                if name in loaded:
                    continue
                hit = self.search(name, obj, origin, chain, root.arch)
                if hit is None:
                    missing.append((name, obj.path))
                    continue
                elf, step = hit
                loaded[name] = elf.path
                if elf.path in loader_of:  # the same file under another name
                    continue
                if elf.dynamic.soname:
                    loaded.setdefault(elf.dynamic.soname, elf.path)
                loader_of[elf.path] = obj
                # ld.so takes $ORIGIN from the directory it opened the object in, links
                # unresolved; the resolved one differs only for symlinked directories.
                origin[elf.path] = posixpath.dirname(elf.path)
                found.append((elf, Resolved(elf.path, step, obj.path)))
                queue.append(elf)
        return found, missing


def _expand(dirs: tuple[str, ...], origin: str) -> list[str]:
    """Search directories with $ORIGIN substituted; ones with other substitutions ($LIB,
    $PLATFORM) or relative ones are dropped, as they name no fixed place in the root."""
    expanded = (DST.sub(origin, d) for d in dirs)
    return [d for d in expanded if d.startswith("/") and "$" not in d]


def _is_static_program(elf: ElfSummary) -> bool:
    """An executable no loader is asked to link: no interpreter, and not a library."""
    return elf.interpreter is None and (elf.type == ET_EXEC or bool(elf.dynamic.flags_1 & DF_1_PIE))


def library_resolver(ctx: ScanContext) -> Resolver:
    """ld.so's search over the target's files and environment: for the programs' DT_NEEDED
    closures here, and for what Go programs' OpenSSL backends dlopen (probes.gobackend)."""
    fs = ctx.target.filesystem
    return Resolver(fs, ctx.evidence(inventory).elf, loader_config(fs),
                    ctx.target.config.env.get("LD_LIBRARY_PATH", ""))


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
                carried = read_elf(fs, elf.path, lambda e: carried_crypto(e, False))
            except (ElfError, OSError) as error:
                malformed[elf.path] = str(error)
                continue
            if carried:
                closures.append(Closure(elf.path, carried=carried))
            continue
        loaded, missing = resolver.closure(elf)
        unresolved += [(elf.path, name, by) for name, by in missing]
        closure = Closure(elf.path, [r for obj, r in loaded if is_libcrypto(obj)], missing)
        if closure.needs_libcrypto:
            closures.append(closure)
    return Linkage(closures, ctx.evidence(libcrypto_copies), config.cache_note, left_to_go, unresolved,
                   malformed, list(files.unreadable))
