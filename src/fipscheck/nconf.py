"""OpenSSL 3's configuration files read the way its NCONF reader (``crypto/conf/conf_def.c``)
reads them, from a scanned root: lines assembled as ``def_load_bio`` assembles them (510-byte
``BIO_gets`` chunks, a NUL byte ending the text of its chunk, a UTF-8 BOM skipped,
backslash continuations), comments, sections, ``name = value``, ``sect::name``, values through
``str_copy`` (quotes, escapes, ``$var``, ``${sect::var}``, ``$(var)``, ``${ENV::VAR}``, and
OpenSSL's 64 KiB limit on an expansion), ``.pragma`` and ``.include`` of files and directories.
Each rule was checked against the real ``NCONF_load`` (``tests/test_fuzz_parsers.py`` compares
the two on generated configurations).

Hand-written: configparser differs in every detail that matters here, and no library reads
NCONF. Bounded: a file is read only up to MAX_FILE_BYTES, one load reads at most MAX_FILES
files and MAX_TOTAL_BYTES (read plus produced by expansion), includes nest MAX_INCLUDE_DEPTH
deep; past a limit the load is an error (fipscheck could not read it), never a verdict.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import EvidenceError, reading

if TYPE_CHECKING:
    from .fs import RootFilesystem

MAX_VALUE_LENGTH = 65536  # OpenSSL's MAX_CONF_VALUE_LENGTH: a longer expansion is refused
MAX_FILE_BYTES = 4 << 20
MAX_FILES = 256  # files read in one load, through every .include
MAX_TOTAL_BYTES = 32 << 20  # read, plus produced by variable expansion, in one load
MAX_INCLUDE_DEPTH = 16
CHUNK = 510  # def_load_bio reads lines with BIO_gets(in, p, CONFBUFSIZE - 1), CONFBUFSIZE 512
BOM = b"\xef\xbb\xbf"
# Characters of names (OpenSSL's CONF_ALNUM_PUNCT) and of variable names (CONF_ALNUM), and
# whitespace (CONF_WS); measured on the real reader, every other byte ends a name.
NAME_CHARS = frozenset(string.ascii_letters + string.digits + "!%&*+,-./;?@^_|~")
VARIABLE_CHARS = frozenset(string.ascii_letters + string.digits + "_")
WHITESPACE = " \t\r\n"
QUOTES = "\"'"
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b"}
SPECIAL = frozenset("\"'\\$")  # a value without these is copied as it is
MAX_LISTED = 100  # missing includes and notes kept for the evidence; the rest are counted


class ConfigError(EvidenceError):
    """The configuration cannot be loaded as OpenSSL would load it (OpenSSL refuses it too)."""


class ConfigLimitError(EvidenceError):
    """The configuration is past one of fipscheck's limits (not OpenSSL's): it was not read
    to the end, so nothing can be said about it."""


@dataclass(frozen=True)
class Value:
    text: str
    file: str  # where it was set, for the evidence


@dataclass
class OpenSSLConfig:
    path: str
    sections: dict[str, dict[str, Value]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file read, in order
    missing_includes: list[str] = field(default_factory=list)  # OpenSSL skips these silently
    notes: list[str] = field(default_factory=list)  # read as OpenSSL reads them, but surprising

    def get(self, section: str, name: str) -> Value | None:
        return self.sections.get(section, {}).get(name)


def read_config(fs: RootFilesystem, path: str, env: dict[str, str]) -> OpenSSLConfig:
    """The configuration at ``path`` with everything it includes, as NCONF_load gives it."""
    reader = _Reader(fs, env, path)
    reader.load(path)
    return reader.config


def logical_lines(data: bytes, notes: list[str] | None = None, where: str = "",
                  first: bool = True) -> Iterator[tuple[int, str]]:
    """(line number, line) as def_load_bio assembles them: read in chunks of at most CHUNK
    bytes ending at a newline; a NUL byte ends its chunk's text (the rest of the chunk is
    lost, and the line goes on in the next chunk), and at the start of a line it ends the
    file; trailing CR and LF removed; a line ending in one backslash continues. A UTF-8 BOM
    is dropped from the first chunk of the ``first`` file of a load only."""
    pos, size, line, again, number, start = 0, len(data), bytearray(), False, 0, 0
    while True:
        end = data.find(b"\n", pos, pos + CHUNK)
        end = min(pos + CHUNK, size) if end < 0 else end + 1
        chunk, pos = data[pos:end], end
        if (nul := chunk.find(b"\0")) >= 0:
            if notes is not None:
                _record(notes, f"{where}:{number + 1}: NUL byte: OpenSSL reads "
                             + ("the file only up to it" if nul == 0 and not again else
                                "no further in this chunk of the line and joins the rest"))
            chunk = chunk[:nul]
        if first:
            first = False
            chunk = chunk.removeprefix(BOM)
        if not chunk and not again:
            return
        start = start or number + 1
        again = False
        text = chunk.rstrip(b"\r\n")
        if chunk and len(text) == len(chunk):
            again = True  # no newline yet: a long line, or one a NUL cut short
        else:
            number += 1
        line += text
        if not again and line.endswith(b"\\") and not line.endswith(b"\\\\"):
            del line[-1]
            again = True
        if again:
            continue
        yield start, line.decode("utf-8", "surrogateescape")
        line, start = bytearray(), 0


def _shown(text: str) -> str:
    """Text from the configuration for a message: quoted, and cut when long."""
    return repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"


def _record(entries: list[str], entry: str) -> None:
    """Keeps an entry for the evidence (a long one cut in its middle, so that the reason at its
    end stays): the first MAX_LISTED, then a line saying there were more."""
    if len(entries) < MAX_LISTED:
        entries.append(entry if len(entry) <= 400 else f"{entry[:200]}...{entry[-200:]}")
    elif len(entries) == MAX_LISTED:
        entries.append("(more not listed)")


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in WHITESPACE:
        i += 1
    return i


def _skip_escape(text: str, i: int) -> int:
    return i + 1 if i + 1 >= len(text) else i + 2


def _skip_quote(text: str, i: int) -> int:
    quote, i = text[i], i + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\":
            i += 1
            if i >= len(text):
                return i
        i += 1
    return i + 1 if i < len(text) else i


def _skip_name(text: str, i: int, dollarid: bool) -> int:
    while i < len(text):
        if text[i] == "\\":
            i = _skip_escape(text, i)
        elif text[i] in NAME_CHARS or (dollarid and text[i] == "$"):
            i += 1
        else:
            break
    return i


def _strip_comment(line: str) -> str:
    """The line up to an unquoted, unescaped ``#`` (clear_comments)."""
    i = _skip_space(line, 0)
    while i < len(line):
        char = line[i]
        if char == "#":
            return line[:i]
        if char in QUOTES:
            i = _skip_quote(line, i)
        elif char == "\\":
            i = _skip_escape(line, i)
        else:
            i += 1
    return line


def _config_name(name: str) -> bool:
    """A name get_next_file takes from an included directory (``.conf`` or ``.cnf``, any
    case, after at least one character)."""
    return (len(name) > 5 and name[-5:].lower() == ".conf") or (len(name) > 4 and name[-4:].lower() == ".cnf")


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


class _Reader:
    """One load of a configuration: the state OpenSSL's reader carries across includes."""

    def __init__(self, fs: RootFilesystem, env: dict[str, str], path: str) -> None:
        self.fs, self.env = fs, env
        self.config = OpenSSLConfig(path, {"default": {}})
        self.dollarid = False
        self.abspath = False
        self.includedir: str | None = None
        self.reading: list[str] = []  # the include chain, to refuse loops
        self.in_directory = False  # OpenSSL reads one directory include at a time
        self.spent = 0  # bytes read and produced by expansion, against MAX_TOTAL_BYTES

    def _spend(self, size: int, what: str) -> None:
        self.spent += size
        if self.spent > MAX_TOTAL_BYTES:
            raise ConfigLimitError(f"{self.config.path}: more than {MAX_TOTAL_BYTES} bytes read or "
                                   f"produced by variable expansion through its includes (at {what}): "
                                   "fipscheck reads no further")

    def load(self, path: str, section: str = "default") -> str:
        """Reads one file; returns the section in effect at its end (includes carry it on)."""
        with reading(path):
            resolved = self.fs.resolve(path)
            if resolved in self.reading:
                raise ConfigError(f"include loop: {' -> '.join([*self.reading, resolved])}")
            if len(self.reading) >= MAX_INCLUDE_DEPTH:
                raise ConfigLimitError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} at {path}: "
                                       "fipscheck reads no deeper")
            if len(self.config.files) >= MAX_FILES:
                raise ConfigLimitError(f"{self.config.path}: more than {MAX_FILES} files read through "
                                       f"its includes (the next was {path}): fipscheck reads no more")
            data = self.fs.read_bytes(path, MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise ConfigLimitError(f"{path} is larger than {MAX_FILE_BYTES} bytes: fipscheck "
                                       "reads no configuration file that large")
            self._spend(len(data), path)
            first = not self.config.files
            self.reading.append(resolved)
            self.config.files.append(path)
            try:
                for number, line in logical_lines(data, self.config.notes, path, first):
                    section = self._line(path, number, line, section)
            finally:
                self.reading.pop()
        return section

    def _line(self, path: str, number: int, line: str, section: str) -> str:
        where = f"{path}:{number}"
        line = _strip_comment(line)
        at = _skip_space(line, 0)
        if at == len(line):
            return section
        if line[at] == "[":
            return self._section(line, at + 1, where)
        start, end = at, _skip_name(line, at, self.dollarid)
        target = section
        if line.startswith("::", end):
            target, start = line[at:end], end + 2
            end = _skip_name(line, start, self.dollarid)
        after = _skip_space(line, end)
        for directive in (".pragma", ".include"):
            if line.startswith(directive, start) and (
                    after != start + len(directive) or line.startswith("=", after)):
                argument = line[after + 1 if line.startswith("=", after) else after:].strip(WHITESPACE)
                if directive == ".pragma":
                    self._pragma(argument, where)
                    return section
                return self._include(self._copy(argument, target, where), section, where)
        if not line.startswith("=", after):
            raise ConfigError(f"{where}: missing equal sign in {_shown(line.strip())}")
        value = self._copy(line[after + 1:].strip(WHITESPACE), target, where)
        values = self.config.sections.setdefault(target, {})
        values.pop(line[start:end], None)  # a repeated name replaces the earlier one, moved last
        values[line[start:end]] = Value(value, path)
        return section

    def _section(self, line: str, start: int, where: str) -> str:
        start = name = _skip_space(line, start)
        while True:  # words of name characters separated by whitespace, then `]`
            end = _skip_name(line, name, self.dollarid)
            after = _skip_space(line, end)
            if after < len(line) and line[after] == "]":
                break
            if after == len(line) or after == name:
                raise ConfigError(f"{where}: section header without closing bracket")
            name = after
        section = self._copy(line[start:end], "default", where)
        self.config.sections.setdefault(section, {})
        return section

    def _pragma(self, argument: str, where: str) -> None:
        name, colon, value = argument.partition(":")
        if not colon or not name or not value:
            raise ConfigError(f"{where}: invalid pragma {_shown(argument)} (keyword:value)")
        name, value = name.strip(WHITESPACE), value.lstrip(WHITESPACE)
        if name in ("dollarid", "abspath"):
            if value.lower() not in ("on", "true", "off", "false"):
                raise ConfigError(f"{where}: invalid pragma value {_shown(value)} (on, true, off "
                                  "or false)")
            setattr(self, name, value.lower() in ("on", "true"))
        elif name == "includedir":
            self.includedir = value
        # OpenSSL ignores pragmas it does not know

    def _include(self, target: str, section: str, where: str) -> str:
        directory = self.env.get("OPENSSL_CONF_INCLUDE", self.includedir)
        if directory is not None and not target.startswith("/"):
            target = f"{directory}{'' if directory.endswith('/') else '/'}{target}"
        if self.abspath and not target.startswith("/"):
            raise ConfigError(f"{where}: relative include {_shown(target)} under abspath")
        if not target:  # stat("") fails: skipped like a missing file
            _record(self.config.missing_includes, f"{where}: (an empty path)")
            return section
        if not target.startswith("/"):
            # OpenSSL opens it from the working directory; an image's processes start in /
            # unless the image says otherwise
            target = "/" + target
        try:
            kind = self.fs.kind(target)
        except EvidenceError as error:  # stat() fails (a loop, a name too long): OpenSSL skips it
            _record(self.config.missing_includes, f"{where}: {target} ({error})")
            return section
        if kind is None:
            _record(self.config.missing_includes, f"{where}: {target}")
        elif kind != "directory":
            return self.load(target, section)  # a FIFO or device: refused, with the reason
        elif self.in_directory:  # CONF_R_RECURSIVE_DIRECTORY_INCLUDE, not fatal
            _record(self.config.missing_includes, f"{where}: {target} (a directory included from a "
                                                "directory's file: OpenSSL skips it)")
        else:
            self.in_directory = True
            try:
                return self._include_directory(target, section)
            finally:
                self.in_directory = False
        return section

    def _include_directory(self, directory: str, section: str) -> str:
        """Its *.cnf and *.conf files (any case), that directory only, none deeper; a
        subdirectory so named reads as empty, as OpenSSL reads it."""
        for name in sorted(filter(_config_name, self.fs.listdir(directory))):
            path = f"{directory.rstrip('/')}/{name}"
            try:
                kind = self.fs.kind(path)
            except EvidenceError as error:
                _record(self.config.missing_includes, f"{directory}: {name} ({error})")
                continue
            if kind is None:  # a dangling link: OpenSSL cannot open it and goes on
                _record(self.config.missing_includes, f"{directory}: {name}")
            elif kind != "directory":
                section = self.load(path, section)
        return section

    def _copy(self, raw: str, section: str, where: str) -> str:
        """A value as str_copy makes it: quotes and escapes removed, variables expanded
        outside quotes, refused when an expansion makes it longer than OpenSSL allows."""
        if SPECIAL.isdisjoint(raw):
            return raw
        out: list[str] = []
        size = _byte_length(raw) + 1  # OpenSSL's buffer: the raw value, then what expands
        i = 0
        while i < len(raw):
            char = raw[i]
            if char in QUOTES:
                end = i + 1
                while end < len(raw) and raw[end] != char:
                    if raw[end] == "\\":
                        end += 1
                        if end == len(raw):
                            break
                    out.append(raw[end])
                    end += 1
                i = end + 1
            elif char == "\\":
                if i + 1 == len(raw):
                    break
                out.append(ESCAPES.get(raw[i + 1], raw[i + 1]))
                i += 2
            elif char == "$" and (not self.dollarid or raw.startswith(("${", "$("), i)):
                value, end = self._variable(raw, i, section, where)
                size += _byte_length(value) - (end - i)
                if size > MAX_VALUE_LENGTH:
                    raise ConfigError(f"{where}: variable expansion too long: OpenSSL refuses values "
                                      f"over {MAX_VALUE_LENGTH} bytes")
                self._spend(len(value), where)
                out.append(value)
                i = end
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _variable(self, raw: str, at: int, section: str, where: str) -> tuple[str, int]:
        """The value of the reference at ``raw[at]`` (a ``$``) and where the reference ends."""
        close = {"{": "}", "(": ")"}.get(raw[at + 1:at + 2])
        start = end = at + (2 if close else 1)
        end = self._variable_name(raw, end)
        scope, name = section, raw[start:end]
        if raw.startswith("::", end):
            scope, start = name, end + 2
            end = self._variable_name(raw, start)
            name = raw[start:end]
        if close:
            if raw[end:end + 1] != close:
                raise ConfigError(f"{where}: no closing {close} in variable reference")
            end += 1
        found = self.config.get(scope, name)
        text = found.text if found else None
        if text is None and scope == "ENV":
            text = self.env.get(name)
        if text is None and (found := self.config.get("default", name)):
            text = found.text
        if text is None:
            reference = raw[at:end]
            raise ConfigError(f"{where}: variable {_shown(reference)} has no value")
        return text, end

    def _variable_name(self, raw: str, i: int) -> int:
        while i < len(raw) and (raw[i] in VARIABLE_CHARS or (self.dollarid and raw[i] == "$")):
            i += 1
        return i
