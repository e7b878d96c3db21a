"""Mozilla NSS in the target, read from its files: the softoken (``libsoftokn3.so``, NSS's
PKCS #11 crypto module, which defines ``FC_GetFunctionList``, its FIPS entry point) and freebl
(``libfreeblpriv3.so``, where the algorithms are), NSS's version, and what puts it in FIPS
mode: the softoken module's flags in each NSS database's ``pkcs11.txt`` and ``NSS_FIPS`` in
the target's environment (and, on a host, the kernel's switch, which NSS also reads).

NSS's ``libssl3.so`` (its TLS library) and glibc's ``libnss_*.so.2`` (name-service modules)
are no crypto module: only the softoken and freebl are looked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from ..errors import EvidenceError
from .inventory import read_elf
from .kernel import read_kernel_fips
from .runtime_objects import objects_defining

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

SOFTOKEN = re.compile(r"^libsoftokn3\.so(\.\d+)*$")
FREEBL = re.compile(r"^libfreebl(priv)?3\.so(\.\d+)*$")
VERSION = re.compile(rb"Version: NSS (\d+\.\d+(?:\.\d+)*)")
# Where NSS databases live: the system one, users' and what NSS programs are pointed at
# (walked for pkcs11.txt and the legacy secmod.db).
DATABASE_TREES = ("/etc", "/root", "/home", "/opt", "/app", "/srv", "/var/lib")
MAX_PKCS11_TXT = 1 << 20
NSS_FIPS_TRUE = ("y", "f", "1", "t")  # NSS reads only the first character of NSS_FIPS


@dataclass(frozen=True)
class NssDatabase:
    path: str  # the pkcs11.txt or secmod.db file
    fips: bool | None  # None: a legacy Berkeley DB that is not read here
    module: str | None  # the internal module's name, as NSS shows it
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "fips": self.fips, "module": self.module,
                "flags": list(self.flags)}


@dataclass
class NssInstall:
    softoken: list[str] = field(default_factory=list)
    freebl: list[str] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)  # softoken -> NSS version
    databases: list[NssDatabase] = field(default_factory=list)
    nss_fips_env: str | None = None
    kernel_fips: str | None = None  # read on hosts only: containers share their host's kernel
    malformed: dict[str, str] = field(default_factory=dict)


def nss_install(ctx: ScanContext) -> NssInstall:
    fs = ctx.target.filesystem
    softoken = objects_defining(ctx, SOFTOKEN, "FC_GetFunctionList")
    found = NssInstall(malformed=dict(softoken.malformed))
    if not softoken.found:
        return found
    freebl = objects_defining(ctx, FREEBL, "FREEBL_GetVector")
    found.malformed.update(freebl.malformed)
    found.softoken = [e.path for e in softoken.found]
    found.freebl = [e.path for e in freebl.found]
    for path in found.softoken:
        versions = read_elf(fs, path, lambda e: e.search(VERSION))
        # each of versions is a match of VERSION, so VERSION.match finds it again
        found.versions[path] = (cast("re.Match[bytes]", VERSION.match(versions[0])).group(1).decode()
                                if versions else None)
    found.databases = [database(fs, path) for path in _database_files(fs)]
    found.nss_fips_env = ctx.target.config.env.get("NSS_FIPS")
    if ctx.target.own_kernel and ctx.target.can_run:
        found.kernel_fips = ctx.evidence(read_kernel_fips).value
    return found


def _database_files(fs: RootFilesystem) -> list[str]:
    files = []
    for top in DATABASE_TREES:
        if not fs.exists(top):
            continue
        files += [e.path for e in fs.walk(top) if e.is_file and e.name in ("pkcs11.txt", "secmod.db")]
    return sorted(files)


def database(fs: RootFilesystem, path: str) -> NssDatabase:
    """The internal (softoken) module of one NSS database and whether it is in FIPS mode: its
    ``Flags=`` include ``FIPS`` (what ``modutil -fips true`` writes)."""
    if path.endswith("secmod.db"):
        return NssDatabase(path, None, None)
    data = fs.read_bytes(path, MAX_PKCS11_TXT + 1)
    if len(data) > MAX_PKCS11_TXT:
        raise EvidenceError(f"{path} is larger than {MAX_PKCS11_TXT} bytes")
    for entry in re.split(r"\n\s*\n", data.decode("utf-8", "replace")):
        fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
        flags = re.search(r"\bFlags=([^\s]*)", fields.get("NSS", ""))
        names = tuple(f for f in (flags.group(1).split(",") if flags else ()) if f)
        if "internal" in (f.lower() for f in names):
            fips = "fips" in (f.lower() for f in names)
            return NssDatabase(path, fips, fields.get("name"), names)
    return NssDatabase(path, False, None)  # no internal module entry: NSS adds the default one
