"""The resolver shares one breadth-first walk between programs alike (same name, DT_NEEDED,
architecture, no DT_RPATH or DT_RUNPATH of their own): each program still gets exactly what a
walk of its own gives, its own path where it needed something itself."""

from __future__ import annotations

from fipscheck.elf import ET_DYN, ET_EXEC, DynamicInfo
from fipscheck.fs import RootFilesystem
from fipscheck.loader import LoaderConfig
from fipscheck.probes.inventory import IS_DYNAMIC, LIBCRYPTO, ElfSummary
from fipscheck.probes.linkage import Resolved, Resolver

LIB = "/usr/lib/x86_64-linux-gnu"

# The crafted root has no loader: ld.so's own directories are assumed, and the step says so.
ASSUMED = "default directory (assumed: no loader of this architecture)"


def summary(path: str, *needed: str, soname: str | None = None, kind: int = ET_DYN,
            rpath: tuple[str, ...] = ()) -> ElfSummary:
    flags = IS_DYNAMIC | (LIBCRYPTO if path.rsplit("/", 1)[-1].startswith("libcrypto") else 0)
    return ElfSummary(path, 64, 62, kind, "/lib64/ld-linux-x86-64.so.2",
                      DynamicInfo(tuple(needed), soname, rpath), flags)


def test_shared_walks_give_each_program_its_own_closure(tmp_path):
    elves = [
        summary("/usr/bin/a", "libfoo.so.1", kind=ET_EXEC),
        summary("/opt/tools/a", "libfoo.so.1", kind=ET_EXEC),  # alike: one walk for both
        summary("/usr/bin/b", "libfoo.so.1", rpath=("/opt/old",), kind=ET_EXEC),
        summary("/usr/bin/c", "libcrypto.so.3", "libgone.so.2", kind=ET_EXEC),  # needs it itself
        summary("/opt/tools/c", "libcrypto.so.3", "libgone.so.2", kind=ET_EXEC),
        summary(f"{LIB}/libfoo.so.1", "libcrypto.so.3", soname="libfoo.so.1"),
        summary("/opt/old/libfoo.so.1", soname="libfoo.so.1"),
        summary(f"{LIB}/libcrypto.so.3", soname="libcrypto.so.3"),
        # a library whose dependency needs it back
        summary(f"{LIB}/libself.so.1", "libdep.so.1", soname="libself.so.1"),
        summary("/opt/copy/libself.so.1", "libdep.so.1", soname="libself.so.1"),
        summary(f"{LIB}/libdep.so.1", "libself.so.1", "libcrypto.so.3", soname="libdep.so.1"),
    ]
    for elf in elves:
        (tmp_path / elf.path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / elf.path.lstrip("/")).write_bytes(b"")
    fs = RootFilesystem(tmp_path)
    config = LoaderConfig(None, "no cache")
    shared = Resolver(fs, elves, config, "")
    for elf in elves + elves[::-1]:  # each program after its alikes, and before them
        alone = Resolver(fs, elves, config, "")
        found, missing = alone.closure(elf)
        expected = [Resolved(obj.path, step, by) for obj, step, by in found
                    if obj.path in alone.libcrypto]
        assert shared.libcrypto_closure(elf) == (expected, missing), elf.path
    assert shared.libcrypto_closure(elves[1])[0] == [
        Resolved(f"{LIB}/libcrypto.so.3", ASSUMED, f"{LIB}/libfoo.so.1")]
    assert shared.libcrypto_closure(elves[4]) == (
        [Resolved(f"{LIB}/libcrypto.so.3", ASSUMED, "/opt/tools/c")],
        [("libgone.so.2", "/opt/tools/c")])
