"""The ELF reader on real binaries of this machine, and on damaged copies of them."""

from __future__ import annotations

import os
import re
import shutil
import struct
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import re._parser as sre_parse  # Python 3.11+
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

import pytest

from elfcraft import craft
from fipscheck import elf as elf_module
from fipscheck.elf import OVERLAP, ElfError, ElfFile, SearchBudget
from fipscheck.probes.gobuild import MAGIC as MAGIC_GO
from fipscheck.probes.gobuild import _go_binary
from fipscheck.probes.inventory import summarize
from fipscheck.probes.signatures import (
    COMPILED_DIRS,
    CRYPTOGAMS_LINE,
    PROVIDER_VERSION,
    VERSION_BANNERS,
    banners,
    carried_crypto,
)

OPENSSL = "/usr/bin/openssl"  # bookworm's, linked against libssl.so.3 and libcrypto.so.3


@contextmanager
def elf(path) -> Iterator[ElfFile]:
    with open(path, "rb") as f:  # ElfFile reads lazily from the open file
        yield ElfFile(f)


def test_dynamic_linkage_of_a_real_program():
    with elf(OPENSSL) as program:
        assert program.bits == 64 and program.little_endian and program.machine == 62  # x86-64
        assert program.interpreter == "/lib64/ld-linux-x86-64.so.2"
        assert program.dynamic().needed == ("libssl.so.3", "libcrypto.so.3", "libc.so.6")


def test_soname_and_symbols_of_a_real_library():
    with elf("/usr/lib/x86_64-linux-gnu/libcrypto.so.3") as library:
        assert library.dynamic().soname == "libcrypto.so.3"
        assert "EVP_MD_fetch" in set(library.symbol_names())
        assert library.section(".no-such-section") is None
        assert library.section(".dynstr") is not None


@pytest.mark.parametrize("keep", [3, 20, 63, 200, 5000])
def test_truncated_files_are_errors(tmp_path, keep):
    cut = tmp_path / "cut"
    with open(OPENSSL, "rb") as whole:
        cut.write_bytes(whole.read()[:keep])
    with pytest.raises(ElfError), elf(cut) as e:
        e.dynamic()
        list(e.symbol_names())


def test_absurd_header_counts_are_errors(tmp_path):
    broken = tmp_path / "broken"
    shutil.copy(OPENSSL, broken)
    with open(broken, "r+b") as f:
        f.seek(56)  # e_phnum of a 64-bit header
        f.write(struct.pack("<H", 0xFFFF))
    with pytest.raises(ElfError), elf(broken):
        pass


# -- crafted files: every search bounded (issue 9) ---------------------------------------

def test_many_headers_naming_one_region_make_the_file_malformed(tmp_path):
    # 65,535 section headers, all ".rodata" over the same 8 KiB: searched one by one, that
    # is 512 MiB for one small file; the headers cannot be real.
    crafted = craft(tmp_path / "many", [(".rodata", 1, 0, 8192)] * 65533, size=8192)
    with open(crafted, "rb") as f, ElfFile(f) as e, pytest.raises(ElfError, match="cannot be real"):
        e.contains((b"SSL",), (".rodata",))


def test_a_section_larger_than_any_real_one_makes_the_file_malformed(tmp_path):
    huge = 100 << 30  # a sparse file: nothing on disk, 100 GiB to read
    crafted = craft(tmp_path / "sparse", [(".rodata", 1, 4096, huge - 4096)], size=huge)
    with open(crafted, "rb") as f, ElfFile(f) as e, pytest.raises(ElfError, match="no real section"):
        e.contains((b"SSL",), (".rodata",))


def test_sections_past_the_end_of_the_file_are_errors(tmp_path):
    crafted = craft(tmp_path / "short", [(".rodata", 1, 4096, 1 << 20)], size=8192)
    with open(crafted, "rb") as f, ElfFile(f) as e, pytest.raises(ElfError, match="runs past the end"):
        e.search(re.compile(rb"x"))


def test_the_scan_budget_ends_the_search(tmp_path):
    crafted = craft(tmp_path / "big", [(".rodata", 1, 4096, 64 << 20)], size=65 << 20)
    budget = SearchBudget(100 << 20)
    with open(crafted, "rb") as f:
        ElfFile(f, budget).contains((b"SSL",), (".rodata",))  # 64 of 100 MiB
        with pytest.raises(ElfError, match="budget"):
            ElfFile(f, budget).contains((b"SSL",), (".rodata",))


@pytest.mark.parametrize("pattern", [p for _, p in VERSION_BANNERS]
                         + [p for _, p in COMPILED_DIRS] + [PROVIDER_VERSION, CRYPTOGAMS_LINE])
def test_searched_patterns_match_a_bounded_length(pattern):
    # ElfFile.search runs patterns in overlapping steps: exact only up to OVERLAP bytes
    longest = sre_parse.parse(pattern.pattern).getwidth()[1]
    assert longest <= OVERLAP


def test_search_in_steps_finds_what_one_pass_finds(tmp_path, monkeypatch):
    # matches on both sides of a step's end, one across it, one that looks behind the start
    monkeypatch.setattr(elf_module, "CHUNK", 4096)
    data = bytearray(5 * 4096)
    for at in (4096 - 3, 8192 - 40, 8192 + 5, 3 * 4096 + 1):
        data[at - 1:at + 6] = b"\x001.2.3\x00"
    crafted = craft(tmp_path / "steps", [(".rodata", 1, 4096, len(data))], size=4096)
    with open(crafted, "r+b") as f:
        f.seek(4096)
        f.write(data)
    expected = sorted({m.group(0) for m in PROVIDER_VERSION.finditer(bytes(data))})
    with open(crafted, "rb") as f, ElfFile(f) as e:
        assert e.search(PROVIDER_VERSION) == expected == [b"1.2.3"]
        assert e.contains((b"\x001.2.3\x00",), (".rodata",))


def test_go_probe_reads_crafted_load_segments_once(tmp_path):
    # No section headers and 4,000 PT_LOAD segments over the same 8 KiB: joined, that was
    # 31 MiB (5 GB with 65,535 of them); searched in place, each region is read once.
    blob = MAGIC_GO + bytes([8, 2]) + bytes(16) + b"\x05go1.x\x00" + bytes(64)
    crafted = craft(tmp_path / "go", loads=[(0, 0x400000, 8192)] * 4000, size=8192)
    with open(crafted, "r+b") as f:
        f.seek(4096)
        f.write(blob + b"crypto/sha256" + bytes(100))
        f.seek(0x28)
        f.write(struct.pack("<Q", 0))  # no section headers at all
    tracemalloc.start()
    try:
        with open(crafted, "rb") as f, ElfFile(f) as e:
            binary = _go_binary(str(crafted), e)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert binary is not None and binary.info.go_version == "go1.x"
    assert peak < 8 << 20, f"{peak} bytes allocated for an 8 KiB file"


@pytest.mark.parametrize("size", [5000, 8192, 9000, 1 << 20])
def test_section_table_at_the_end_of_files_of_any_size(tmp_path, size):
    # the table and its names are read with one read of the file's last 8 KiB, or less
    crafted = craft(tmp_path / "lib", [(".rodata", 1, 64, 16)], size=size, table_last=True)
    assert crafted.stat().st_size == size
    with open(crafted, "rb") as f, ElfFile(f) as e:
        assert [s.name for s in e.sections] == ["", ".shstrtab", ".rodata"]


def _everything(path) -> tuple[object, ...]:
    """All a scan asks of one file, through a fresh reader."""
    with elf(path) as e:
        return (e.size, e.interpreter, e.dynamic(), e.sections, sorted(e.symbol_names()),
                banners(e), carried_crypto(e, False), summarize(str(path), e))


def test_a_small_file_read_whole_gives_what_reads_in_pieces_give(tmp_path, monkeypatch):
    programs = [shutil.which(n) for n in ("openssl", "ls", "cat", "env")]
    small = [p for p in programs if p and 4096 < os.path.getsize(p) <= elf_module.WHOLE]
    assert small, "no program of this machine is small enough to be read whole"
    reads = []
    real_pread = elf_module.os.pread
    monkeypatch.setattr(elf_module.os, "pread", lambda *a: reads.append(a) or real_pread(*a))
    whole = [_everything(p) for p in small]
    # one read of the head, one of the whole file, and nothing else for any question
    assert len(reads) == 2 * len(small)
    monkeypatch.setattr(elf_module, "WHOLE", 0)
    assert [_everything(p) for p in small] == whole
    assert len(reads) > 4 * len(small)  # in pieces: section table, strings, sections
