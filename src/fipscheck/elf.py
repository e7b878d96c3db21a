"""Just enough ELF to answer fipscheck's questions, with a few small reads per file.

Hand-written rather than pyelftools: a static scan opens every ELF file in an image
(thousands), and the linkage check needs only the header, the program headers and the
dynamic segment. pyelftools builds objects for every structure it touches and costs several
times more per file; here one file is four or five ``pread`` calls. Every offset and size
read from the file is bounds-checked: a truncated or hostile file raises ``ElfError`` (an
evidence error), never a crash and never a guess.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import EvidenceError

MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_NODEFLIB = 0x800
SHT_SYMTAB, SHT_DYNSYM = 2, 11
MAX_TABLE = 1 << 16  # entries in a header table; more is a hostile or broken file
MAX_READ = 64 << 20  # bytes in one structure (string table, section)


class ElfError(EvidenceError):
    """The file claims to be ELF but cannot be read as one."""


@dataclass(frozen=True)
class Segment:
    type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class SectionHeader:
    name: str
    type: int
    offset: int
    size: int
    link: int
    entsize: int


@dataclass(frozen=True)
class DynamicInfo:
    needed: tuple[str, ...] = ()
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    flags_1: int = 0


class ElfFile:
    """An ELF file open for reading. ``ElfFile(f)`` reads the header and program headers."""

    def __init__(self, f: BinaryIO) -> None:
        self._fd = f.fileno()
        self.size = os.fstat(self._fd).st_size
        ident = self._read(0, 16)
        if ident[:4] != MAGIC:
            raise ElfError("not an ELF file")
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ElfError(f"unknown ELF class {ident[4]} or data encoding {ident[5]}")
        self.bits = 64 if ident[4] == 2 else 32
        self.little_endian = ident[5] == 1
        self._e = "<" if self.little_endian else ">"
        layout = "HHIQQQIHHHHHH" if self.bits == 64 else "HHIIIIIHHHHHH"
        header = self._unpack(layout, 16)
        (self.type, self.machine, _version, self.entry, phoff, shoff, _flags, _ehsize,
         phentsize, phnum, shentsize, shnum, shstrndx) = header
        self._shoff, self._shentsize, self._shnum, self._shstrndx = shoff, shentsize, shnum, shstrndx
        self.segments = self._segments(phoff, phentsize, phnum)
        self._sections: list[SectionHeader] | None = None

    # -- raw reads -------------------------------------------------------------------------
    def _read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or size > MAX_READ or offset + size > self.size:
            raise ElfError(f"truncated: {size} bytes at offset {offset} of a {self.size}-byte file")
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise ElfError(f"short read at offset {offset}")
        return data

    def _unpack(self, layout: str, offset: int) -> tuple:
        fmt = self._e + layout
        return struct.unpack(fmt, self._read(offset, struct.calcsize(fmt)))

    def _table(self, offset: int, entsize: int, count: int, layout: str) -> Iterator[tuple]:
        fmt = struct.Struct(self._e + layout)
        if count > MAX_TABLE or (count and entsize < fmt.size):
            raise ElfError(f"implausible table: {count} entries of {entsize} bytes")
        data = self._read(offset, entsize * count)
        for i in range(count):
            yield fmt.unpack_from(data, i * entsize)

    def _segments(self, phoff: int, phentsize: int, phnum: int) -> tuple[Segment, ...]:
        if self.bits == 64:  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz
            rows = ((t, o, v, fs, ms) for t, _f, o, v, _p, fs, ms, _a in
                    self._table(phoff, phentsize, phnum, "IIQQQQQQ"))
        else:  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
            rows = ((t, o, v, fs, ms) for t, o, v, _p, fs, ms, _f, _a in
                    self._table(phoff, phentsize, phnum, "IIIIIIII"))
        return tuple(Segment(*row) for row in rows)

    def read_vaddr(self, vaddr: int, size: int) -> bytes:
        """Bytes at a virtual address, through the PT_LOAD segment that maps it."""
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.filesz:
                return self._read(seg.offset + vaddr - seg.vaddr, size)
        raise ElfError(f"address {vaddr:#x} (+{size}) is not in a loaded segment")

    def _vaddr_to_offset(self, vaddr: int) -> int:
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + vaddr - seg.vaddr
        raise ElfError(f"address {vaddr:#x} is not in a loaded segment")

    # -- what the loader sees --------------------------------------------------------------
    @property
    def interpreter(self) -> str | None:
        seg = next((s for s in self.segments if s.type == PT_INTERP), None)
        return None if seg is None else self._read(seg.offset, seg.filesz).split(b"\0")[0].decode(
            "utf-8", "surrogateescape")

    @property
    def is_dynamic(self) -> bool:
        return any(s.type == PT_DYNAMIC for s in self.segments)

    def dynamic(self) -> DynamicInfo:
        seg = next((s for s in self.segments if s.type == PT_DYNAMIC), None)
        if seg is None:
            return DynamicInfo()
        entry = "qQ" if self.bits == 64 else "iI"
        width = struct.calcsize(entry)
        tags: list[tuple[int, int]] = []
        for tag, value in self._table(seg.offset, width, min(seg.filesz // width, MAX_TABLE), entry):
            if tag == DT_NULL:
                break
            tags.append((tag, value))
        strtab = next((v for t, v in tags if t == DT_STRTAB), None)
        strsz = next((v for t, v in tags if t == DT_STRSZ), 0)
        if strtab is None:
            raise ElfError("dynamic segment without a string table")
        strings = self._read(self._vaddr_to_offset(strtab), strsz)

        def string(offset: int) -> str:
            end = strings.find(b"\0", offset)
            if offset >= len(strings) or end < 0:
                raise ElfError(f"dynamic string at offset {offset} runs past the table")
            return strings[offset:end].decode("utf-8", "surrogateescape")

        def paths(tag: int) -> tuple[str, ...]:
            return tuple(p for t, v in tags if t == tag for p in string(v).split(":") if p)

        soname = next((string(v) for t, v in tags if t == DT_SONAME), None)
        return DynamicInfo(needed=tuple(string(v) for t, v in tags if t == DT_NEEDED),
                           soname=soname, rpath=paths(DT_RPATH), runpath=paths(DT_RUNPATH),
                           flags_1=next((v for t, v in tags if t == DT_FLAGS_1), 0))

    # -- sections and symbols --------------------------------------------------------------
    @property
    def sections(self) -> list[SectionHeader]:
        if self._sections is None:
            self._sections = self._read_sections()
        return self._sections

    def _read_sections(self) -> list[SectionHeader]:
        if self._shoff == 0 or self._shnum == 0:
            return []  # stripped of section headers: legal, the loader does not need them
        layout = "IIQQQQIIQQ" if self.bits == 64 else "IIIIIIIIII"
        rows = list(self._table(self._shoff, self._shentsize, self._shnum, layout))
        if self._shstrndx >= len(rows):
            raise ElfError("section name table index out of range")
        names = self._read(rows[self._shstrndx][4], rows[self._shstrndx][5])

        def name(offset: int) -> str:
            end = names.find(b"\0", offset)
            return names[offset:end].decode("utf-8", "surrogateescape") if 0 <= offset < len(names) else ""

        return [SectionHeader(name(r[0]), r[1], r[4], r[5], r[6], r[9]) for r in rows]

    def section(self, name: str) -> bytes | None:
        header = next((s for s in self.sections if s.name == name), None)
        return None if header is None else self._read(header.offset, header.size)

    def symbol_names(self) -> Iterator[str]:
        """Names in .symtab and .dynsym (a stripped file has only the latter)."""
        for table in (s for s in self.sections if s.type in (SHT_SYMTAB, SHT_DYNSYM)):
            if table.link >= len(self.sections) or table.entsize == 0:
                raise ElfError(f"symbol table {table.name} is malformed")
            strings = self._read(self.sections[table.link].offset, self.sections[table.link].size)
            data = self._read(table.offset, table.size)
            for i in range(0, len(data) - table.entsize + 1, table.entsize):
                offset = struct.unpack_from(self._e + "I", data, i)[0]  # st_name comes first
                if 0 < offset < len(strings):
                    yield strings[offset:strings.find(b"\0", offset)].decode("utf-8", "surrogateescape")
