"""Just enough ELF to answer fipscheck's questions, with a few reads per file.

Hand-written rather than pyelftools: a static scan opens every ELF file of an image (up to
hundreds of thousands), and needs only the header, the program headers, the dynamic segment,
the section table and literal searches of a few sections. pyelftools builds objects for
every structure it touches and costs several times more per file. Here the first 4 KiB of
a file are read once (the headers), other structures with one ``pread`` each, large sections
are searched through a memory map; tables are unpacked by ``struct`` and ``array`` in C, and
section names are matched as bytes without decoding the whole name table.

The file is hostile until proven otherwise. Every offset and size read from it is checked
against the file's real size (its length on disk, never what a header claims) and raises
``ElfError`` (an evidence error), never a crash and never a guess. Searches are bounded:
a searched section larger than ``MAX_SECTION`` cannot be real; one file is searched for at
most ``SEARCH_FACTOR`` times its size (65,535 headers naming one region make it malformed,
not a long scan); a scan's process searches at most ``SEARCH_BUDGET`` bytes in all. Every
search runs in steps of ``CHUNK`` bytes, because a single C-level search over a huge region
does not return to Python, where Ctrl-C and SIGTERM are answered, and a step's memory is
bounded too.
"""

from __future__ import annotations

import array
import mmap
import operator
import os
import re
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

from .errors import EvidenceError

MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_NODEFLIB, DF_1_PIE = 0x800, 0x08000000
SHT_SYMTAB, SHT_DYNSYM = 2, 11
MAX_TABLE = 1 << 16  # entries in a header table; more is a hostile or broken file
MAX_READ = 64 << 20  # bytes copied out of a file for one structure (string table, section)
MAX_SECTION = 2 << 30  # a searched section larger than this is not a real one
SEARCH_FACTOR = 16  # one file is searched for at most this many times its size (+ 1 MiB)
SEARCH_BUDGET = 64 << 30  # bytes one process may search during one scan
CHUNK = 16 << 20  # bytes per C-level search step: between steps signals are answered
OVERLAP = 64 << 10  # no pattern given to ElfFile.search may match more than this
HEAD = 4096  # bytes read at once from the start of every file (ELF's headers)
TAIL = 8192  # bytes read at once from the end, for the section table and its names
BEHIND = 64  # bytes before a searched range that a pattern may look at
RECENT, RECENT_BYTES = 4, 1 << 20  # reads kept for reuse, and the largest kept
MAP_FROM = 256 << 10  # sections searched from this size on are mapped, not read
WHOLE = 256 << 10  # ELF files up to this size are read whole, at once
MAX_MATCHES = 4096  # distinct matches of one pattern in one file; more is not a real library


class ElfError(EvidenceError):
    """The file claims to be ELF but cannot be read as one."""


class Segment(NamedTuple):
    type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


class SectionHeader(NamedTuple):
    name: str
    type: int
    offset: int
    size: int
    link: int
    entsize: int


class DynamicInfo(NamedTuple):
    needed: tuple[str, ...] = ()
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    flags_1: int = 0


class SearchBudget:
    """Bytes a process may still search in this scan (shared by the files it reads)."""

    def __init__(self, limit: int = SEARCH_BUDGET) -> None:
        self.limit = self.left = limit

    def charge(self, size: int) -> None:
        if size > self.left:
            self.left = 0
            raise ElfError(f"not searched: the scan's search budget of {self.limit >> 30} GiB "
                           "is spent (an image of that many bytes of sections is not real)")
        self.left -= size


class _Layout:
    """The structs of one ELF class and byte order, built once."""

    def __init__(self, bits: int, order: str) -> None:
        wide = bits == 64
        self.header = struct.Struct(order + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"))
        # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align (64-bit);
        # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align (32-bit)
        self.phdr = struct.Struct(order + ("IIQQQQQQ" if wide else "IIIIIIII"))
        self.ph_fields = operator.itemgetter(*((0, 2, 3, 5, 6) if wide else (0, 1, 2, 4, 5)))
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
        self.shdr = struct.Struct(order + ("IIQQQQIIQQ" if wide else "IIIIIIIIII"))
        self.dyn = struct.Struct(order + ("qQ" if wide else "iI"))
        self.word_code = "Q" if wide else "I"  # array codes of 8 and 4 bytes on Linux
        self.swap = (order == "<") != (sys.byteorder == "little")
        self.word = struct.Struct(order + "I")
        self.half = struct.Struct(order + "H")
        self.shndx_at = 6 if wide else 14  # st_shndx: 4th field of Elf64_Sym, last of Elf32_Sym


_LAYOUTS = {(bits, e): _Layout(bits, order) for bits in (32, 64)
            for e, order in ((1, "<"), (2, ">"))}
# Section table rows: (name offset, type, offset, size, link, entsize).
_NAME, _TYPE, _OFFSET, _SIZE, _LINK, _ENTSIZE = range(6)
_SECTION_FIELDS = operator.itemgetter(0, 1, 4, 5, 6, 9)
_KEYS: dict[str, bytes] = {}  # section name -> how it ends in the name table


class ElfFile:
    """An ELF file open for reading. ``ElfFile(f)`` (a binary file or a file descriptor, kept
    open by the caller while this is used) reads the header and program headers; ``budget``
    is the scan's SearchBudget that this file's searches are charged to."""

    def __init__(self, f: BinaryIO | int, budget: SearchBudget | None = None,
                 head: bytes | None = None, size: int | None = None) -> None:
        self._fd = f if isinstance(f, int) else f.fileno()
        # The head of the file is read once (``head``, when the caller read it already to
        # see the magic; ``size``, when the caller has its fstat): it holds the headers; a
        # small file is all head. Anything else is read where it lies, with pread (measured
        # here: mapping a file and unmapping it costs more than the reads, and a read cannot
        # fault like a mapping of a file that shrinks meanwhile).
        self._head = head = os.pread(self._fd, HEAD, 0) if head is None else head
        if len(head) < HEAD:
            self.size = len(head)
        else:
            self.size = os.fstat(self._fd).st_size if size is None else size
        if len(head) < self.size <= WHOLE:
            # Most ELF files are small, and a summary reads their dynamic strings, section
            # table and .rodata too: one read of the whole file serves all of them (measured:
            # two reads instead of four or five, for the same CPU time).
            self._head = head = os.pread(self._fd, self.size, 0)
            if len(head) != self.size:
                raise ElfError("short read at offset 0: the file changed while read")
        self._recent: list[tuple[int, bytes]] = []  # the last reads beyond the head
        self._map: mmap.mmap | None = None  # for searches of large sections
        self._budget = budget
        self._searched = 0
        ident = self._read(0, 16)
        if ident[:4] != MAGIC:
            raise ElfError("not an ELF file")
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ElfError(f"unknown ELF class {ident[4]} or data encoding {ident[5]}")
        self.bits = 64 if ident[4] == 2 else 32
        self.little_endian = ident[5] == 1
        self._l = layout = _LAYOUTS[(self.bits, ident[5])]
        (self.type, self.machine, _version, self.entry, phoff, shoff, _flags, _ehsize,
         phentsize, phnum, shentsize, shnum, shstrndx) = layout.header.unpack(
            self._read(16, layout.header.size))
        self._shoff, self._shentsize, self._shnum, self._shstrndx = shoff, shentsize, shnum, shstrndx
        self._phdrs: list[tuple[int, int, int, int, int]]
        self._phdrs = phdrs = list(map(layout.ph_fields,
                                       self._table(phoff, phentsize, phnum, layout.phdr)))
        self._interp = self._dyn = None
        for row in phdrs:  # the first of each, as the loader takes them
            if row[0] == PT_INTERP and self._interp is None:
                self._interp = row
            elif row[0] == PT_DYNAMIC and self._dyn is None:
                self._dyn = row
        self._columns: tuple[Sequence[int], ...] | None = None  # the section table, see _section_count
        self._names = b""
        self._sections: list[SectionHeader] | None = None

    def close(self) -> None:
        """Drop what was read (the file descriptor is the caller's)."""
        self._head, self._recent = b"", []
        if self._map is not None:
            self._map.close()
            self._map = None

    def __enter__(self) -> ElfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw reads -------------------------------------------------------------------------
    def _check(self, offset: int, size: int) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise ElfError(f"truncated: {size} bytes at offset {offset} of a {self.size}-byte file")

    def _bytes(self, offset: int, size: int) -> bytes:
        """[offset, offset + size) of the file, already checked against its size: from the
        head, from one of the last reads (the dynamic strings are read for their names and
        searched for symbols; a section for several patterns), or read now."""
        end = offset + size
        if end <= len(self._head):
            return self._head[offset:end]
        for base, data in self._recent:
            if base <= offset and end <= base + len(data):
                return data if (base, len(data)) == (offset, size) else data[offset - base:end - base]
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise ElfError(f"short read at offset {offset}: the file changed while read")
        if size <= RECENT_BYTES:
            self._recent = [(offset, data), *self._recent[:RECENT - 1]]
        return data

    def _read(self, offset: int, size: int) -> bytes:
        end = offset + size
        if 0 <= offset <= end <= len(self._head):  # most reads: the headers
            return self._head[offset:end]
        if size > MAX_READ:
            raise ElfError(f"truncated: {size} bytes at offset {offset} of a {self.size}-byte file")
        self._check(offset, size)
        return self._bytes(offset, size)

    def _table(self, offset: int, entsize: int, count: int,
               layout: struct.Struct) -> Iterator[tuple[int, ...]]:
        if count > MAX_TABLE or (count and entsize < layout.size):
            raise ElfError(f"implausible table: {count} entries of {entsize} bytes")
        data = self._read(offset, entsize * count)
        if entsize == layout.size:
            return layout.iter_unpack(data)
        return (layout.unpack_from(data, i * entsize) for i in range(count))

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(Segment(*row) for row in self._phdrs)

    def read_vaddr(self, vaddr: int, size: int) -> bytes:
        """Bytes at a virtual address, through the PT_LOAD segment that maps it."""
        for kind, offset, start, filesz, _ in self._phdrs:
            if kind == PT_LOAD and start <= vaddr and vaddr + size <= start + filesz:
                return self._read(offset + vaddr - start, size)
        raise ElfError(f"address {vaddr:#x} (+{size}) is not in a loaded segment")

    def _vaddr_to_offset(self, vaddr: int) -> int:
        for kind, offset, start, filesz, _ in self._phdrs:
            if kind == PT_LOAD and start <= vaddr < start + filesz:
                return offset + vaddr - start
        raise ElfError(f"address {vaddr:#x} is not in a loaded segment")

    # -- what the loader sees --------------------------------------------------------------
    @property
    def interpreter(self) -> str | None:
        seg = self._interp
        if seg is None:
            return None
        return self._read(seg[1], seg[3]).split(b"\0")[0].decode("utf-8", "surrogateescape")

    @property
    def is_dynamic(self) -> bool:
        return self._dyn is not None

    def dynamic(self) -> DynamicInfo:
        seg = self._dyn
        if seg is None:
            return DynamicInfo()
        width = self._l.dyn.size
        count = min(seg[3] // width, MAX_TABLE)
        # The (tag, value) pairs as one array of words, split and looked up in C: a Python
        # loop over every entry costs more than the rest of this method.
        words = array.array(self._l.word_code, self._read(seg[1], width * count))
        if self._l.swap:
            words.byteswap()
        pairs = words.tolist()
        tags, values = pairs[0::2], pairs[1::2]
        if 0 in tags:  # DT_NULL ends the table
            end = tags.index(0)
            del tags[end:], values[end:]
        first = dict(zip(reversed(tags), reversed(values), strict=True))  # each tag's first value
        strtab, strsz = first.get(DT_STRTAB), first.get(DT_STRSZ, 0)
        if strtab is None:
            raise ElfError("dynamic segment without a string table")

        def listed(tag: int) -> list[int]:
            if tag not in first:
                return []
            return [v for t, v in zip(tags, values, strict=True) if t == tag]

        strings = self._read(self._vaddr_to_offset(strtab), strsz)

        def string(offset: int) -> str:
            end = strings.find(b"\0", offset)
            if offset >= strsz or end < 0:
                raise ElfError(f"dynamic string at offset {offset} runs past the table")
            return strings[offset:end].decode("utf-8", "surrogateescape")

        def paths(tag: int) -> tuple[str, ...]:
            return tuple(p for v in listed(tag) for p in string(v).split(":") if p)

        soname = string(first[DT_SONAME]) if DT_SONAME in first else None
        return DynamicInfo(tuple(map(string, listed(DT_NEEDED))), soname, paths(DT_RPATH),
                           paths(DT_RUNPATH), first.get(DT_FLAGS_1, 0))

    # -- sections --------------------------------------------------------------------------
    def _section_count(self) -> int:
        """Reads the section table once, as columns (name offset, type, offset, size, link,
        entsize): sliced out of arrays of words in C, so no object is made per section."""
        if self._columns is None:
            if self._shoff == 0 or self._shnum == 0:
                self._columns = ((),) * 6  # stripped of section headers: legal, ld.so needs none
                return 0
            layout, count, entsize = self._l, self._shnum, self._shentsize
            if count > MAX_TABLE or entsize < layout.shdr.size:
                raise ElfError(f"implausible table: {count} entries of {entsize} bytes")
            tail = max(self.size - TAIL, 0)
            if len(self._head) < self._shoff + entsize * count <= self.size and tail <= self._shoff:
                # Linkers put the table at the end, right after the names it points into:
                # one read of the tail serves both.
                self._bytes(tail, self.size - tail)
            data = self._read(self._shoff, entsize * count)
            if entsize == layout.shdr.size:
                words = array.array("I", data)
                wide = array.array("Q", data) if self.bits == 64 else words
                if layout.swap:
                    words.byteswap()
                    if wide is not words:
                        wide.byteswap()
                step, wide_step = (16, 8) if self.bits == 64 else (10, 10)
                at = (3, 4, 7) if self.bits == 64 else (4, 5, 9)  # offset, size, entsize
                self._columns = (words[0::step], words[1::step], wide[at[0]::wide_step],
                                 wide[at[1]::wide_step], words[(10 if self.bits == 64 else 6)::step],
                                 wide[at[2]::wide_step])
            else:  # a table with padded entries: unpacked entry by entry
                rows = [_SECTION_FIELDS(r) for r in self._table(self._shoff, entsize, count,
                                                                layout.shdr)]
                self._columns = tuple(zip(*rows, strict=True))
            if self._shstrndx >= count:
                raise ElfError("section name table index out of range")
            self._names = self._read(self._row(self._shstrndx)[_OFFSET],
                                     self._row(self._shstrndx)[_SIZE])
        return len(self._columns[0])

    def _row(self, i: int) -> tuple[int, ...]:
        names, types, offsets, sizes, links, entsizes = self._columns  # type: ignore[misc]
        return names[i], types[i], offsets[i], sizes[i], links[i], entsizes[i]

    @property
    def has_sections(self) -> bool:
        return bool(self._section_count())

    def _named(self, name: str) -> list[tuple[int, ...]]:
        """Rows of the sections called ``name``. The name at offset p equals ``name`` exactly
        when ``name + NUL`` occurs at p, so only the name table's occurrences are compared
        (names share tails: ".text" may start inside ".rela.text")."""
        self._section_count()
        key = _KEYS.get(name) or _KEYS.setdefault(name, name.encode() + b"\0")
        names, column = self._names, self._columns[_NAME]  # type: ignore[index]
        at = names.find(key)
        found: list[int] = []
        while at >= 0:
            index = -1
            for _ in range(column.count(at)):  # count and index run in C
                index = column.index(at, index + 1)
                found.append(index)
            at = names.find(key, at + 1)
        return [self._row(i) for i in (sorted(found) if len(found) > 1 else found)]

    def has_section(self, name: str) -> bool:
        return bool(self._named(name))

    @property
    def sections(self) -> list[SectionHeader]:
        """Every section header, names decoded (the searches below do not need this)."""
        if self._sections is None:
            count = self._section_count()
            names = self._names

            def name(offset: int) -> str:
                end = names.find(b"\0", offset)
                inside = 0 <= offset < len(names)
                return names[offset:end].decode("utf-8", "surrogateescape") if inside else ""

            rows = map(self._row, range(count))
            self._sections = [SectionHeader(name(r[_NAME]), *r[1:]) for r in rows]
        return self._sections

    def section(self, name: str) -> bytes | None:
        """A copy of the first section called ``name`` (at most MAX_READ bytes)."""
        rows = self._named(name)
        return None if not rows else self._read(rows[0][_OFFSET], rows[0][_SIZE])

    def _ranges(self, sections: Iterable[str]) -> list[tuple[int, int]]:
        """(offset, size) of every non-empty section of these names, checked against the
        file and charged to the search budgets."""
        ranges, total = [], 0
        for name in sections:
            for row in self._named(name):
                offset, size = row[_OFFSET], row[_SIZE]
                if not size:
                    continue
                if offset + size > self.size:
                    raise ElfError(f"section {name} runs past the end of the file")
                if size > MAX_SECTION:
                    raise ElfError(f"section {name} claims {size} bytes: no real section is that large")
                ranges.append((offset, size))
                total += size
        if total:
            self._charge(total)
        return ranges

    def _charge(self, size: int) -> None:
        self._searched += size
        if self._searched > SEARCH_FACTOR * self.size + (1 << 20):
            raise ElfError(f"its section headers would have {self._searched} bytes searched in a "
                           f"{self.size}-byte file: they cannot be real")
        if self._budget is not None:
            self._budget.charge(size)

    # -- searches --------------------------------------------------------------------------
    def _window(self, start: int, end: int, behind: int = 0) -> tuple[bytes | mmap.mmap, int]:
        """Bytes holding [start, end) and the file offset they begin at, with ``behind``
        bytes before ``start`` (for patterns that look behind) where the file has them."""
        if end <= len(self._head):
            return self._head, 0
        base = max(0, start - behind)
        for recent, data in self._recent:
            if recent <= base and end <= recent + len(data):
                return data, recent
        if end - base >= MAP_FROM:  # large: searched in place (copying costs more than the search)
            if self._map is None:
                self._map = mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ)
            if len(self._map) < end:
                raise ElfError(f"short read at offset {start}: the file changed while read")
            return self._map, 0
        return self._bytes(base, end - base), base

    def _find(self, literal: bytes, start: int, end: int) -> int:
        """Where ``literal`` first occurs in [start, end), or -1; CHUNK bytes at a time."""
        reach = len(literal) - 1
        while start < end:
            stop = min(start + CHUNK + reach, end)
            data, base = self._window(start, stop)
            at = data.find(literal, start - base, stop - base)
            if at >= 0:
                return base + at
            start += CHUNK
        return -1

    def _finditer(self, pattern: re.Pattern[bytes], start: int, end: int) -> Iterator[bytes]:
        """``pattern.finditer`` over [start, end), CHUNK bytes at a time. Each step's window
        reaches OVERLAP bytes further, and resumes where the last match ended, so the matches
        are exactly those of one pass for any pattern that matches at most OVERLAP bytes (and
        looks at most BEHIND bytes behind)."""
        resume = start
        while start < end:
            stop = min(start + CHUNK, end)
            window_end = min(stop + OVERLAP, end)
            data, base = self._window(start, window_end, BEHIND)
            for match in pattern.finditer(data, max(start, resume) - base, window_end - base):
                if match.start() + base >= stop:
                    break
                resume = match.end() + base
                yield match.group(0)
            start = stop

    def _matches_from(self, pattern: re.Pattern[bytes], prefix: bytes, start: int,
                      end: int) -> Iterator[bytes]:
        """The same matches as ``_finditer`` for a pattern whose every match starts with
        ``prefix``: the pattern is tried only where a literal search finds the prefix."""
        while (at := self._find(prefix, start, end)) >= 0:
            window_end = min(at + OVERLAP, end)
            data, base = self._window(at, window_end, BEHIND)
            match = pattern.match(data, at - base, window_end - base)
            start = match.end() + base if match else at + 1
            if match:
                yield match.group(0)

    def contains(self, literals: tuple[bytes, ...], sections: tuple[str, ...]) -> bool:
        """Whether any of the literals occurs in the named sections (a literal search, many
        times faster than a regular expression)."""
        head = self._head
        for offset, size in self._ranges(sections):
            end = offset + size
            for literal in literals:
                if (head.find(literal, offset, end) if end <= len(head)
                        else self._find(literal, offset, end)) >= 0:
                    return True
        return False

    def search(self, pattern: re.Pattern[bytes], sections: tuple[str, ...] = (".rodata",),
               hints: tuple[bytes, ...] = (), starts_with: bytes = b"") -> list[bytes]:
        """Distinct matches of ``pattern`` in the named sections (a large section is read and
        searched a CHUNK at a time). ``hints``: literals of which every
        match contains one; without any of them the pattern is not run. ``starts_with``: a
        literal every match starts with; the pattern is then only tried where it occurs."""
        ranges = self._ranges(sections)
        if not ranges or (hints and not any(self._find(x, offset, offset + size) >= 0
                                            for offset, size in ranges for x in hints)):
            return []
        found: set[bytes] = set()
        for offset, size in ranges:
            matches = (self._matches_from(pattern, starts_with, offset, offset + size)
                       if starts_with else self._finditer(pattern, offset, offset + size))
            for match in matches:
                found.add(match)
                if len(found) > MAX_MATCHES:
                    raise ElfError(f"more than {MAX_MATCHES} distinct strings like "
                                   f"{match[:40]!r}: not a real library")
        return sorted(found)

    def load_ranges(self) -> list[tuple[int, int]]:
        """The file ranges the PT_LOAD segments map, overlaps merged (so that segments naming
        one region many times cost one search of it), charged to the search budgets."""
        spans = sorted((offset, offset + filesz) for kind, offset, _, filesz, _ in self._phdrs
                       if kind == PT_LOAD and filesz)
        merged: list[list[int]] = []
        for start, end in spans:
            self._check(start, end - start)
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        ranges = [(start, end - start) for start, end in merged]
        self._charge(sum(size for _, size in ranges))
        return ranges

    def literals_in(self, literals: dict[str, bytes], ranges: list[tuple[int, int]]) -> frozenset[str]:
        """Keys of the literals that occur in any of the file ranges."""
        return frozenset(key for key, literal in literals.items()
                         if any(self._find(literal, offset, offset + size) >= 0
                                for offset, size in ranges))

    def section_ranges(self, name: str) -> list[tuple[int, int]]:
        """(offset, size) of the sections called ``name``, checked and charged like a search."""
        return self._ranges((name,))

    # -- symbols ---------------------------------------------------------------------------
    def symbol_names(self, defined_only: bool = False,
                     starting_with: tuple[bytes, ...] = ()) -> Iterator[str]:
        """Names in .symtab and .dynsym (a stripped file has only the latter); with
        ``defined_only``, only symbols this file defines (not the ones it imports); with
        ``starting_with``, only names that start with one of these. A name starts with one
        exactly when its string-table offset is where that occurs, so the offsets are found
        in the string table and only the symbols at them are decoded (a library has
        thousands, and decoding each costs more than the rest of a file's reading)."""
        count = self._section_count()
        layout = self._l
        types = self._columns[_TYPE]  # type: ignore[index]
        for row in [self._row(i) for i in range(count) if types[i] in (SHT_SYMTAB, SHT_DYNSYM)]:
            entsize = row[_ENTSIZE]
            if row[_LINK] >= count or entsize < layout.shndx_at + 2:
                raise ElfError(f"symbol table {self._name_of(row)} is malformed")
            table = self._row(row[_LINK])
            self._charge(row[_SIZE] + table[_SIZE])
            strings = self._read(table[_OFFSET], table[_SIZE])
            data = self._read(row[_OFFSET], row[_SIZE])
            count = len(data) // entsize
            if starting_with and entsize % 4 == 0:
                wanted = {at for x in starting_with for at in _occurrences(strings, x)}
                words = array.array("I", data[:count * entsize] if wanted else b"")
                if layout.swap:
                    words.byteswap()
                indices = [i for i, at in enumerate(words[0::entsize // 4]) if at in wanted]
            else:
                indices = [i for i in range(count) if not starting_with or any(
                    strings.startswith(x, layout.word.unpack_from(data, i * entsize)[0])
                    for x in starting_with)]
            name_at, shndx = layout.word.unpack_from, layout.half.unpack_from
            for i in indices:
                offset = name_at(data, i * entsize)[0]  # st_name comes first
                if defined_only and shndx(data, i * entsize + layout.shndx_at)[0] == 0:
                    continue  # SHN_UNDEF: an import
                if 0 < offset < len(strings):
                    yield strings[offset:strings.find(b"\0", offset)].decode("utf-8", "surrogateescape")

    def _name_of(self, row: tuple[int, ...]) -> str:
        end = self._names.find(b"\0", row[_NAME])
        return self._names[row[_NAME]:end].decode("utf-8", "surrogateescape")


def _occurrences(data: bytes, literal: bytes) -> Iterator[int]:
    at = data.find(literal)
    while at >= 0:
        yield at
        at = data.find(literal, at + 1)
