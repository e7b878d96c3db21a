"""The ELF reader on real binaries of this machine, and on damaged copies of them."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fipscheck.elf import ElfError, ElfFile

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
