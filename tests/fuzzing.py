"""Shared pieces of the fuzz targets (tests/test_fuzz_*.py): mutations of real seed files, and
hypothesis profiles. The suite runs each target for a fixed number of derandomized examples;
``fuzz/run.py`` runs them longer, with another seed each time."""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

SUITE_EXAMPLES = 120
# Values that break parsers: boundaries of each integer width, counts and sizes no file has.
INTERESTING = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, (1 << 64) - 1)

settings.register_profile("suite", max_examples=SUITE_EXAMPLES, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("FIPSCHECK_FUZZ_EXAMPLES", "20000")), deadline=None,
    database=DirectoryBasedExampleDatabase(os.environ.get("FIPSCHECK_FUZZ_DB", "/var/tmp/fipscheck-fuzz-db")),
    print_blob=True, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("FIPSCHECK_HYPOTHESIS_PROFILE", "suite"))


def _apply(seed: bytes, edits: list[tuple]) -> bytes:
    data = bytearray(seed)
    for edit in edits:
        kind, at = edit[0], edit[1] % (len(data) + 1)
        if kind == "set":
            data[at:at + len(edit[2])] = edit[2]
        elif kind == "flip" and at < len(data):
            data[at] ^= 1 << edit[2]
        elif kind == "int":
            value, width, big = edit[2], edit[3], edit[4]
            packed = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big" if big else "little")
            data[at:at + width] = packed
        elif kind == "insert":
            data[at:at] = edit[2]
        elif kind == "delete":
            del data[at:at + edit[2]]
        elif kind == "cut":
            del data[at:]
    return bytes(data)


def mutations(seed: bytes, hot: list[int] | None = None, max_edits: int = 6) -> st.SearchStrategy[bytes]:
    """The seed with a few edits: bytes set, bits flipped, integers of every width written
    (with INTERESTING values), runs inserted or deleted, the end cut. ``hot``: offsets of the
    format's header fields, where most edits go (a uniform offset rarely hits a header)."""
    offsets = st.integers(0, max(len(seed) - 1, 0))
    if hot:
        offsets = st.one_of(st.sampled_from(hot), st.sampled_from(hot).map(lambda o: o + 4), offsets)
    edit = st.one_of(
        st.tuples(st.just("set"), offsets, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("flip"), offsets, st.integers(0, 7)),
        st.tuples(st.just("int"), offsets, st.sampled_from(INTERESTING) | st.integers(0, 1 << 64),
                  st.sampled_from([1, 2, 4, 8]), st.booleans()),
        st.tuples(st.just("insert"), offsets, st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("delete"), offsets, st.integers(1, 256)),
        st.tuples(st.just("cut"), offsets),
    )
    return st.lists(edit, min_size=1, max_size=max_edits).map(lambda edits: _apply(seed, edits))


def elf_hot_offsets(seed: bytes) -> list[int]:
    """Where the header fields of a 64-bit little-endian ELF are: the file header, every
    program header, every section header and every dynamic entry (as the seed has them)."""
    phoff, shoff = struct.unpack_from("<QQ", seed, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", seed, 54)
    hot = list(range(16, 64, 2))
    for i in range(phnum):
        at = phoff + i * phentsize
        hot += [at + field for field in (0, 8, 16, 32, 40)]
        (kind,), (offset,), (size,) = (struct.unpack_from(f, seed, at + o) for f, o in
                                       (("<I", 0), ("<Q", 8), ("<Q", 32)))
        if kind == 2:  # PT_DYNAMIC: each entry's tag and value
            hot += [offset + j for j in range(0, size, 8)]
    hot += [shoff + i * shentsize + field for i in range(shnum) for field in (0, 4, 24, 32, 40, 56)]
    return hot
