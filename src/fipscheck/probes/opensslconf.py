"""The OpenSSL installations a target's programs use (each libcrypto with its compiled-in
OPENSSLDIR and MODULESDIR), and the FIPS module MACs ``openssl fipsinstall`` records. The
configuration files themselves are read by ``fipscheck.nconf``, through the target's
RootFilesystem, so links resolve inside the root."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING

from ..errors import reading
from .linkage import libcrypto_copies, linkage

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

# `openssl fipsinstall` MACs the module with this published key unless told otherwise.
FIPS_DEFAULT_KEY = bytes.fromhex("f4556650ac31d35461610bac4ed81b1a181b2d8a43ea2854cbae22ca74560813")
INSTALL_STATUS_TEXT = b"INSTALL_SELF_TEST_KATS_RUN"  # what `install-mac` is the MAC of
DEFAULT_OPENSSLDIR = "/usr/lib/ssl"  # Debian's, when libcrypto's own string cannot be read
SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")


def module_mac(fs: RootFilesystem, path: str, key: bytes = FIPS_DEFAULT_KEY) -> str:
    """The MAC `openssl fipsinstall` records as ``module-mac``: HMAC-SHA256 of the file."""
    mac = hmac.new(key, digestmod=sha256)
    with reading(path), fs.open(path) as f:
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
