"""The OpenSSL configuration a target's programs load, read the way OpenSSL 3's NCONF reader
reads it: sections, ``name = value`` with quotes, escapes and line continuations, ``$var``
expansion, ``.include`` of files and directories, ``.pragma``. Every file is read through the
target's RootFilesystem, so links resolve inside the root.

Hand-written: Python's configparser differs in every detail that matters here (includes,
``$var``, ``sect::name``, duplicate names, comments after values), and no library reads NCONF.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from hashlib import sha256
from typing import TYPE_CHECKING

from ..errors import EvidenceError
from .linkage import libcrypto_copies, linkage

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

# `openssl fipsinstall` MACs the module with this published key unless told otherwise.
FIPS_DEFAULT_KEY = bytes.fromhex("f4556650ac31d35461610bac4ed81b1a181b2d8a43ea2854cbae22ca74560813")
INSTALL_STATUS_TEXT = b"INSTALL_SELF_TEST_KATS_RUN"  # what `install-mac` is the MAC of
MAX_INCLUDE_DEPTH = 16
MAX_CONFIG_BYTES = 4 << 20
DEFAULT_OPENSSLDIR = "/usr/lib/ssl"  # Debian's, when libcrypto's own string cannot be read
SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
VARIABLE = re.compile(r"\$(?:\{([^}]*)\}|\(([^)]*)\)|([A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)?))")


class ConfigError(EvidenceError):
    """The configuration cannot be loaded as OpenSSL would load it (OpenSSL refuses it too)."""


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

    def get(self, section: str, name: str) -> Value | None:
        return self.sections.get(section, {}).get(name)


class _Reader:
    """One load of a configuration: the state OpenSSL's reader carries across includes."""

    def __init__(self, fs: RootFilesystem, env: dict[str, str], path: str) -> None:
        self.fs, self.env = fs, env
        self.config = OpenSSLConfig(path, {"default": {}})
        self.dollarid = False
        self.abspath = False
        self.includedir = env.get("OPENSSL_CONF_INCLUDE")
        self.reading: list[str] = []  # the include chain, to refuse loops

    def load(self, path: str, section: str = "default") -> str:
        """Reads one file; returns the section in effect at its end (includes carry it on)."""
        resolved = self.fs.resolve(path)
        if resolved in self.reading:
            raise ConfigError(f"include loop: {' -> '.join([*self.reading, resolved])}")
        if len(self.reading) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} at {path}")
        data = self.fs.read_bytes(path, MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        self.reading.append(resolved)
        self.config.files.append(path)
        try:
            for number, line in _logical_lines(data.decode("utf-8", "surrogateescape")):
                section = self._line(path, number, line, section)
        finally:
            self.reading.pop()
        return section

    def _line(self, path: str, number: int, line: str, section: str) -> str:
        where = f"{path}:{number}"
        stripped = _strip_comment(line).strip()
        if not stripped:
            return section
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise ConfigError(f"{where}: section header without closing bracket")
            name = stripped[1:-1].strip()
            self.config.sections.setdefault(name, {})
            return name
        directive = re.match(r"\.(include|pragma)\b\s*=?\s*(.*)$", stripped)
        if directive:
            argument = _unquote(directive.group(2).strip())
            if directive.group(1) == "pragma":
                self._pragma(argument, where)
                return section
            return self._include(self._expand(argument, section, where), section, where)
        name, equals, raw = stripped.partition("=")
        if not equals:
            raise ConfigError(f"{where}: missing equal sign in {stripped!r}")
        name = name.strip()
        target, _, key = name.rpartition("::") if "::" in name else (section, "", name)
        value = self._expand(_unquote(raw.strip()), section, where)
        values = self.config.sections.setdefault(target, {})
        values.pop(key, None)  # a repeated name replaces the earlier one and moves to the end
        values[key] = Value(value, path)
        return section

    def _pragma(self, argument: str, where: str) -> None:
        name, _, value = argument.partition(":")
        flag = value.strip().lower() in ("1", "on", "true", "yes")
        match name.strip():
            case "dollarid":
                self.dollarid = flag
            case "abspath":
                self.abspath = flag
            case "includedir":
                self.includedir = value.strip()
            case other:
                raise ConfigError(f"{where}: unknown pragma {other!r}")

    def _include(self, target: str, section: str, where: str) -> str:
        if not target.startswith("/"):
            if self.abspath:
                raise ConfigError(f"{where}: relative include {target!r} under abspath")
            # without includedir/OPENSSL_CONF_INCLUDE OpenSSL opens it from the working
            # directory; an image's processes start in / unless the image says otherwise
            target = f"{(self.includedir or '').rstrip('/')}/{target}"
        resolved = self.fs.resolve(target)
        if self.fs.is_file(resolved):
            return self.load(target, section)
        if self.fs.exists(resolved):  # a directory: its *.cnf and *.conf files, no deeper
            names = sorted(e.path for e in self.fs.walk(resolved) if e.path.count("/") ==
                           resolved.rstrip("/").count("/") + 1 and e.is_file
                           and e.name.lower().endswith((".cnf", ".conf")))
            for name in names:
                section = self.load(name, section)
            return section
        self.config.missing_includes.append(f"{where}: {target}")
        return section

    def _expand(self, text: str, section: str, where: str) -> str:
        def lookup(match: re.Match[str]) -> str:
            braced = match.group(1) or match.group(2)
            if braced is None and self.dollarid:
                return match.group(0)  # `$` is an identifier character then, not a variable
            name = braced if braced is not None else match.group(3)
            scope, _, key = name.rpartition("::") if "::" in name else (section, "", name)
            if scope == "ENV":
                found = self.env.get(key)
            else:
                value = self.config.get(scope, key) or self.config.get("default", key)
                found = value.text if value else None
            if found is None:
                raise ConfigError(f"{where}: variable ${name} has no value")
            return found
        return VARIABLE.sub(lookup, text)


def _logical_lines(text: str):
    """(first line number, line) with backslash continuations joined."""
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        yield start, pending + line
        pending = ""
    if pending:
        yield start, pending


def _strip_comment(line: str) -> str:
    """The line up to an unquoted, unescaped ``#``."""
    quote, escaped = None, False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def _unquote(text: str) -> str:
    """Quotes removed and backslash escapes applied, as NCONF does for values."""
    out, quote, chars = [], None, iter(text)
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b"}
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(escapes.get(following, following))
        elif quote:
            if char == quote:
                quote = None
            else:
                out.append(char)
        elif char in "\"'":
            quote = char
        else:
            out.append(char)
    return "".join(out)


def read_config(fs: RootFilesystem, path: str, env: dict[str, str]) -> OpenSSLConfig:
    reader = _Reader(fs, env, path)
    reader.load(path)
    return reader.config


def module_mac(fs: RootFilesystem, path: str, key: bytes = FIPS_DEFAULT_KEY) -> str:
    """The MAC `openssl fipsinstall` records as ``module-mac``: HMAC-SHA256 of the file."""
    mac = hmac.new(key, digestmod=sha256)
    with fs.open(path) as f:
        while chunk := f.read(1 << 20):
            mac.update(chunk)
    return format_mac(mac.digest())


def install_mac(key: bytes = FIPS_DEFAULT_KEY) -> str:
    return format_mac(hmac.new(key, INSTALL_STATUS_TEXT, sha256).digest())


def format_mac(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


@dataclass(frozen=True)
class LibCrypto:
    path: str
    openssldir: str  # where its default openssl.cnf lives
    modulesdir: str | None  # where it loads providers from by default
    openssldir_from: str  # "libcrypto" or "Debian default", for the evidence


@dataclass
class OpenSSLInstall:
    libcryptos: list[LibCrypto]
    env: dict[str, str]


def _system_library_dir(path: str) -> bool:
    """In a directory the loader searches by default (multiarch ones included)?"""
    directory, _, _ = path.rpartition("/")
    parent, _, name = directory.rpartition("/")
    return directory in SYSTEM_LIBRARY_DIRS or (parent in ("/lib", "/usr/lib") and "-linux-" in name)


def openssl_install(ctx: ScanContext) -> OpenSSLInstall:
    """The OpenSSL 3 libcrypto copies the target uses, with their compiled-in defaults: those
    its programs resolve to (through LD_LIBRARY_PATH, RPATH, the cache...: the linkage probe's
    loader) and those in the default library directories. A copy that nothing loads from
    elsewhere is bundled: a matter for libraries.banned and linkage.libcrypto."""
    used = {r.path for closure in ctx.evidence(linkage).closures for r in closure.libcrypto}
    found = []
    for copy in ctx.evidence(libcrypto_copies):
        if not (copy.version or "").startswith("3.") or not (
                copy.path in used or _system_library_dir(copy.path)):
            continue
        found.append(LibCrypto(copy.path, copy.openssl_dir or DEFAULT_OPENSSLDIR, copy.modules_dir,
                               "libcrypto" if copy.openssl_dir else "Debian default"))
    return OpenSSLInstall(found, dict(ctx.target.config.env))
