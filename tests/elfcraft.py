"""Crafted ELF files for the tests of bounded reading: only the structures given, the rest
holes in a sparse file."""

from __future__ import annotations

import struct

SECTION = struct.Struct("<IIQQQQIIQQ")


def craft(path, sections=(), loads=(), size=0, kind=3, table_last=False):
    """A 64-bit little-endian ELF of type ``kind``: ``sections`` as (name, type, offset,
    size), ``loads`` as PT_LOAD (offset, vaddr, filesz) rows; the file is made ``size``
    bytes long (sparse) when that is larger than what is written. The section names and
    table follow the program headers, or with ``table_last`` end the file, as linkers put
    them."""
    names = b"\0.shstrtab\0" + b"".join(name.encode() + b"\0" for name in dict.fromkeys(
        n for n, *_ in sections))
    phoff = 64
    names_at = phoff + 56 * len(loads)
    if table_last:
        names_at = (size - 64 * (len(sections) + 2) - len(names)) & ~7
    shoff = (names_at + len(names) + 7) & ~7
    rows = [bytes(64), SECTION.pack(1, 3, 0, 0, names_at, len(names), 0, 0, 1, 0)]
    rows += [SECTION.pack(names.index(b"\0" + n.encode() + b"\0") + 1, t, 2, 0, o, s, 0, 0, 1, 0)
             for n, t, o, s in sections]
    header = (b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", kind, 62, 1, 0, phoff if loads else 0, shoff, 0, 64, 56, len(loads),
        64, len(rows), 1))
    programs = b"".join(struct.pack("<IIQQQQQQ", 1, 5, o, v, v, n, n, 4096) for o, v, n in loads)
    with open(path, "wb") as f:
        f.write(header + programs)
        f.seek(names_at)
        f.write(names)
        f.seek(shoff)
        f.write(b"".join(rows))
        if size > f.tell():
            f.truncate(size)
    return path
