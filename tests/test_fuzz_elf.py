"""Fuzz target for the ELF reader and everything fipscheck reads through it (the inventory's
summary, symbols, banners, compiled-in directories, Go build info): damaged copies of real
programs compiled here, the damage aimed at header fields. Reading either succeeds or raises
ElfError (the file is malformed); any other exception is a bug. Crashes found by longer runs
(fuzz/run.py) are kept below as regression tests with their minimized inputs."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crafted import compile_program, go_binary, modinfo
from fipscheck import elf as elf_module
from fipscheck.elf import ElfError, ElfFile
from fipscheck.probes.gobuild import _go_binary, parse_buildinfo
from fipscheck.probes.signatures import banners, carried_crypto, compiled_dirs, provider_version
from fuzzing import elf_hot_offsets, mutations


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[bytes]:
    """A dynamic C program with symbols, and the same with Go build info and function names."""
    work = tmp_path_factory.mktemp("elf-seeds")
    program = compile_program(work)
    go = go_binary(work, "go", modinfo({"GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on"}))
    return [program.read_bytes(), go.read_bytes()]


@contextlib.contextmanager
def in_memory(data: bytes):
    """The bytes as a file descriptor (a memfd: no file to write and remove per example)."""
    fd = os.memfd_create("fipscheck-fuzz")
    try:
        os.write(fd, data)
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def read_whole(whole: bool):
    """Small files read whole at once (what a scan does), or in pieces (as large ones are)."""
    saved = elf_module.WHOLE
    elf_module.WHOLE = saved if whole else 0
    try:
        yield
    finally:
        elf_module.WHOLE = saved


def read_everything(data: bytes, whole: bool = True) -> None:
    with in_memory(data) as fd, read_whole(whole), contextlib.suppress(ElfError):
        elf = ElfFile(fd)
        _ = (elf.interpreter, elf.is_dynamic, elf.dynamic(), [s.name for s in elf.sections])
        elf.section(".rodata")
        list(elf.symbol_names())
        list(elf.symbol_names(defined_only=True))
        banners(elf)
        compiled_dirs(elf)
        provider_version(elf)
        carried_crypto(elf, False)
        _go_binary("/fuzzed", elf)


@given(data=st.data())
def test_damaged_elf_files_are_malformed_never_a_crash(seeds, data):
    seed = data.draw(st.sampled_from(seeds))
    read_everything(data.draw(mutations(seed, elf_hot_offsets(seed))), data.draw(st.booleans()))


@given(data=st.data())
def test_damaged_go_build_info_in_a_real_elf(seeds, data):
    """The build info blob damaged where it lives: the pointer layout (before Go 1.18) reads
    through the ELF's segments, so the blob's flags and pointers reach the ELF reader."""
    seed = seeds[1]
    at = seed.index(b"\xff Go buildinf:")
    damaged = data.draw(mutations(seed, list(range(at + 14, at + 40))))
    with in_memory(damaged) as fd, contextlib.suppress(ElfError):
        elf = ElfFile(fd)
        start = damaged.find(b"\xff Go buildinf:")
        if start >= 0:
            parse_buildinfo(elf, damaged[start:start + 4096])
