"""Go build information read from ELF files, as `go version -m` prints it, without running
anything: the ``.go.buildinfo`` blob (inline strings since Go 1.18, pointers into the data
segment before), its modinfo lines (``path``, ``mod``, ``dep``, ``build K=V``), and which
crypto the function names in ``.gopclntab`` show. ``.gopclntab`` survives ``-ldflags=-s -w``,
so stripped binaries keep their function names.

Hand-written because no Python library reads Go build info; Go's own layout
(src/debug/buildinfo) is small and stable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..elf import PT_LOAD, ElfError, ElfFile
from ..errors import EvidenceError
from ..gostrconv import UnquoteError, quoted_prefix_end, unquote
from .inventory import inventory, read_elf

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
FLAG_BIG_ENDIAN, FLAG_INLINE = 1, 2
ALIGN = 16  # the blob's alignment, where the search looks when there are no section headers
SEARCH_WINDOW = 64 << 10  # Go's linker puts the blob near the start of the data segment
MAX_LOAD_SEGMENTS = 16
MAX_STRING = 1 << 20
SENTINEL = 16  # modinfo is wrapped in 16 bytes of sentinel on each side

# Function-name fragments (each after the NUL that ends the previous name) that tell which
# crypto a binary carries. golang-fips/go links its vendored OpenSSL package into every build,
# also `-tags no_openssl` ones that never load OpenSSL; only its active backend
# (crypto/internal/backend/openssl.go) calls the package's Init.
MARKERS = {
    "crypto": b"\0crypto/",
    "boringcrypto": b"_Cfunc__goboringcrypto_",
    "golang-fips": b"\0vendor/github.com/golang-fips/openssl/v2.Init\0",
    "microsoft-openssl": b"github.com/microsoft/go-crypto-openssl",
}


@dataclass(frozen=True)
class GoBuildInfo:
    go_version: str  # as the binary states it, with any " X:experiment" suffix
    layout: str  # "inline" (Go >= 1.18) or "pointer"
    path: str | None = None
    main: str | None = None  # "module version" of the main module
    deps: tuple[str, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def experiments(self) -> frozenset[str]:
        suffix = self.go_version.partition(" X:")[2]
        named = self.settings.get("GOEXPERIMENT", "")
        return frozenset(e for e in (*suffix.split(","), *named.split(",")) if e)


@dataclass(frozen=True)
class GoBinary:
    path: str
    info: GoBuildInfo
    interpreter: str | None  # a program interpreter means a dynamic, cgo-capable executable
    markers: frozenset[str]  # keys of MARKERS found among the function names


@dataclass
class GoBinaries:
    binaries: list[GoBinary]
    malformed: dict[str, str]  # path -> why its Go build info could not be read


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ElfError("Go build info: truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def _inline_strings(blob: bytes) -> tuple[bytes, bytes]:
    pos, out = HEADER_SIZE, []
    for _ in range(2):
        size, pos = _uvarint(blob, pos)
        if pos + size > len(blob):
            raise ElfError("Go build info: string runs past the blob")
        out.append(blob[pos:pos + size])
        pos += size
    return out[0], out[1]


def _read_memory(elf: ElfFile, vaddr: int, size: int) -> bytes:
    """Like read_vaddr, but memory past a segment's file contents (.bss) reads as zeros: an
    empty modinfo variable of a GOPATH build lives there."""
    for seg in elf.segments:
        if seg.type == PT_LOAD and seg.vaddr + seg.filesz <= vaddr and vaddr + size <= seg.vaddr + seg.memsz:
            return bytes(size)
    return elf.read_vaddr(vaddr, size)


def _pointer_strings(elf: ElfFile, blob: bytes) -> tuple[bytes, bytes]:
    """Before Go 1.18 the header holds two pointers to Go string headers (data, length)."""
    size = blob[14]
    if size not in (4, 8):
        raise ElfError(f"Go build info: pointer size {size}")
    pair = (">" if blob[15] & FLAG_BIG_ENDIAN else "<") + ("II" if size == 4 else "QQ")

    def string(at: int) -> bytes:
        address, length = struct.unpack(pair, _read_memory(elf, at, 2 * size)) if at else (0, 0)
        if length > MAX_STRING:
            raise ElfError(f"Go build info: implausible string length {length}")
        return elf.read_vaddr(address, length) if length else b""

    pointers = struct.unpack_from(pair, blob, 16)
    return string(pointers[0]), string(pointers[1])


QUOTE_KEY, QUOTE_VALUE = frozenset('= \t\r\n"`'), frozenset(' \t\r\n"`')  # debug/buildinfo's


def _bad(what: str, text: str) -> ElfError:
    shown = text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"
    return ElfError(f"Go build info: {what} {shown!r}")


def _unquote(text: str) -> str:
    try:
        return unquote(text)
    except UnquoteError as error:
        raise _bad(f"bad quoted string ({error}):", text) from None


def _split_setting(text: str) -> tuple[str, str]:
    """A ``build`` line's key and value, as debug/buildinfo.ParseBuildInfo splits them."""
    if text[:1] in ('"', "`"):  # a quoted key ends where its literal ends
        end = quoted_prefix_end(text)
        if end < 0 or not text.startswith("=", end + 1):
            raise _bad("bad build line", text)
        key, value = _unquote(text[:end + 1]), text[end + 2:]
    else:
        key, equals, value = text.partition("=")
        if not equals or not key or not QUOTE_KEY.isdisjoint(key):
            raise _bad("bad build line", text)
    if value[:1] in ('"', "`"):
        return key, _unquote(value)
    if not QUOTE_VALUE.isdisjoint(value):
        raise _bad("unquoted value that must be quoted in", text)
    return key, value


def parse_modinfo(go_version: str, layout: str, modinfo: str) -> GoBuildInfo:
    path = main = None
    deps, settings = [], {}
    for line in modinfo.split("\n"):
        kind, _, rest = line.partition("\t")
        if kind == "path":
            path = rest
        elif kind == "mod":
            main = " ".join(rest.split("\t")[:2])
        elif kind == "dep":
            deps.append(" ".join(rest.split("\t")[:2]))
        elif kind == "build":
            key, value = _split_setting(rest)
            settings[key] = value
    return GoBuildInfo(go_version, layout, path, main, tuple(deps), settings)


def parse_buildinfo(elf: ElfFile, blob: bytes) -> GoBuildInfo:
    """Build info from the blob that starts with MAGIC (the section, or where it was found)."""
    if len(blob) < HEADER_SIZE or not blob.startswith(MAGIC):
        raise ElfError("Go build info: no magic at the start of .go.buildinfo")
    inline = bool(blob[15] & FLAG_INLINE)
    version, modinfo = _inline_strings(blob) if inline else _pointer_strings(elf, blob)
    if len(modinfo) >= 2 * SENTINEL + 1 and modinfo[-SENTINEL - 1:-SENTINEL] == b"\n":
        modinfo = modinfo[SENTINEL:-SENTINEL]
    else:
        modinfo = b""
    return parse_modinfo(version.decode("utf-8", "surrogateescape"), "inline" if inline else "pointer",
                         modinfo.decode("utf-8", "surrogateescape"))


def _find_blob(elf: ElfFile) -> bytes | None:
    """Without section headers: the magic at an aligned address near a segment's start (Go
    binaries have three or four PT_LOAD segments: a file naming more is only searched in its
    first MAX_LOAD_SEGMENTS distinct ones, so a crafted table cannot multiply the reads)."""
    loads = dict.fromkeys((s.vaddr, s.filesz) for s in elf.segments if s.type == PT_LOAD)
    for vaddr, filesz in list(loads)[:MAX_LOAD_SEGMENTS]:
        window = elf.read_vaddr(vaddr, min(filesz, SEARCH_WINDOW))
        for at in range(-vaddr % ALIGN, len(window) - HEADER_SIZE, ALIGN):
            if window.startswith(MAGIC, at):
                return elf.read_vaddr(vaddr + at, min(filesz - at, SEARCH_WINDOW))
    return None


def _markers(elf: ElfFile) -> frozenset[str]:
    """Keys of MARKERS found among the function names: in .gopclntab, or in what the loaded
    segments map when the section headers are gone (searched in place, each region once)."""
    names = elf.section_ranges(".gopclntab")[:1] if elf.has_section(".gopclntab") else elf.load_ranges()
    return elf.literals_in(MARKERS, names)


def read_go_binary(fs: RootFilesystem, path: str) -> GoBinary | None:
    """The binary's Go build info, or None when it is not a Go binary."""
    return read_elf(fs, path, lambda elf: _go_binary(path, elf))


def _go_binary(path: str, elf: ElfFile) -> GoBinary | None:
    blob = elf.section(".go.buildinfo") if elf.has_sections else _find_blob(elf)
    if blob is None:
        return None
    return GoBinary(path, parse_buildinfo(elf, blob), elf.interpreter, _markers(elf))


def go_binaries(ctx: ScanContext) -> GoBinaries:
    """Every Go binary in the inventory: those with a .go.buildinfo section, and those without
    section headers at all, which are searched for the blob the way Go's own reader does."""
    fs = ctx.target.filesystem
    found = GoBinaries([], {})
    for elf in ctx.evidence(inventory).elf:
        if elf.has_sections and not elf.go_buildinfo:
            continue
        try:
            binary = read_go_binary(fs, elf.path)
        except (ElfError, OSError, EvidenceError) as error:
            found.malformed[elf.path] = str(error)
            continue
        if binary is not None:
            found.binaries.append(binary)
    return found


def go_programs(ctx: ScanContext) -> frozenset[str]:
    """Paths of the target's Go programs: those with a .go.buildinfo section, and those whose
    build info go_binaries found without section headers. go.fips-toolchain judges their
    crypto (BoringCrypto and Go's own FIPS module are linked in statically by design), so the
    linkage and bundled-crypto searches leave them to it."""
    sections = {e.path for e in ctx.evidence(inventory).elf if e.go_buildinfo}
    return frozenset(sections | {b.path for b in ctx.evidence(go_binaries).binaries})
