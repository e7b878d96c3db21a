"""What the evidence is measured against: which libraries are banned, what is required."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BannedLibrary:
    family: str
    file_name: re.Pattern[str]  # matched against a shared object's file name or SONAME
    reason: str


def _soname(stem: str) -> re.Pattern[str]:
    return re.compile(rf"^{stem}\.so(\.\d+)*$")


DEFAULT_BANNED = (
    BannedLibrary("gnutls", _soname(r"libgnutls(xx|-dane|-openssl)?"),
                  "GnuTLS carries its own crypto (on Nettle), outside the FIPS module"),
    BannedLibrary("nettle", _soname(r"libnettle"), "Nettle is a non-FIPS crypto library"),
    BannedLibrary("hogweed", _soname(r"libhogweed"), "Hogweed is Nettle's public-key half"),
    BannedLibrary("libgcrypt", _soname(r"libgcrypt"), "libgcrypt is a crypto library of its own"),
    BannedLibrary("mbedtls", _soname(r"libmbed(tls|crypto|x509)"),
                  "Mbed TLS is a crypto library of its own"),
    BannedLibrary("libsodium", _soname(r"libsodium"), "libsodium implements non-FIPS algorithms"),
)


@dataclass(frozen=True)
class Policy:
    banned_libraries: tuple[BannedLibrary, ...] = DEFAULT_BANNED
    # SHA-1 stays approved for uses other than signatures until 2030; False requires that
    # Python refuses it for security use too.
    allow_sha1: bool = True
    required_tools: tuple[str, ...] = ()  # commands that must be on the target's PATH
    # Globs of paths in the target that walks leave out (--skip-dir, --skip-file): shell-style,
    # `*` crossing `/`; with a `/` matched against the whole path, else against the name.
    # What they left out is in the evidence of the checks that walk.
    skip_dirs: tuple[str, ...] = ()
    skip_files: tuple[str, ...] = ()
