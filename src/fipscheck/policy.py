"""What the evidence is measured against: which libraries are banned, what is required, what
is skipped, ignored or waived. ``Policy()`` is the built-in default; ``policyfile`` reads one
from TOML (``--policy FILE``, ``[tool.fipscheck]``), presets included."""

from __future__ import annotations

import datetime
import fnmatch
import functools
import re
from dataclasses import dataclass, field
from typing import Any


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


@functools.lru_cache(maxsize=512)
def glob_pattern(glob: str) -> re.Pattern[str]:
    """A path glob as the policy means it: fnmatch syntax, ``*`` also crossing ``/``."""
    return re.compile(fnmatch.translate(glob))


@dataclass(frozen=True)
class Waiver:
    """An accepted exception: findings of ``check`` (under ``path``, on targets named like
    ``image``) are shown as waived with ``reason`` until ``expires``."""

    check: str
    reason: str
    path: str | None = None  # a glob; None: every finding of the check
    image: str | None = None  # a glob on the target's name; None: every target
    expires: datetime.date | None = None

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and self.expires < today

    def covers(self, path: str | None) -> bool:
        return self.path is None or (path is not None and bool(glob_pattern(self.path).fullmatch(path)))

    def in_scope(self, target_name: str) -> bool:
        return self.image is None or bool(glob_pattern(self.image).fullmatch(target_name))

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "reason": self.reason, "path": self.path, "image": self.image,
                "expires": self.expires.isoformat() if self.expires else None}


@dataclass(frozen=True)
class Policy:
    """What the checks require beyond their defaults: a policy file or ``[tool.fipscheck]``
    (``fipscheck.policyfile``) made into one, or keywords, e.g. ``Policy(allow_sha1=False)``,
    ``Policy(required_tools=("iptables",))``. Immutable; ``to_dict()`` is the report's
    ``policy``."""

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
    skip: dict[str, str] = field(default_factory=dict)  # check ID -> why the policy skips it
    ignore_paths: tuple[str, ...] = ()  # globs of files the static checks do not examine
    required_providers: tuple[str, ...] = ()  # OpenSSL providers that must be active
    # The native checker's algorithms the policy requires to work / to be refused (None: all).
    approved_algorithms: tuple[str, ...] | None = None
    non_approved_algorithms: tuple[str, ...] | None = None
    minimum_versions: dict[str, str] = field(default_factory=dict)  # module kind -> version
    unvalidated: str = "warn"  # a module version without a known certificate: "warn" or "fail"
    # RHEL-like systems: OpenSSL enters FIPS mode from the kernel's fips_enabled, so the
    # configuration in the image need not ask for fips=yes.
    fips_mode_from_kernel: bool = False
    waivers: tuple[Waiver, ...] = ()
    preset: str | None = None
    source: str | None = None  # the file the policy came from
    decided_by: dict[str, str] = field(default_factory=dict)  # key -> "preset rhel" or a file

    def ignored(self, path: str) -> bool:
        return any(glob_pattern(glob).fullmatch(path) for glob in self.ignore_paths)

    def origin(self, key: str) -> str:
        """Who set ``key``: "preset NAME", the policy file, or "default"."""
        return self.decided_by.get(key, "default")

    def to_dict(self) -> dict[str, Any]:
        """The policy as reports carry it: what was set, and by whom."""
        return {
            "source": self.source, "preset": self.preset, "decided_by": dict(self.decided_by),
            "banned_families": [b.family for b in self.banned_libraries],
            "allow_sha1": self.allow_sha1, "required_tools": list(self.required_tools),
            "skip": dict(self.skip), "ignore_paths": list(self.ignore_paths),
            "required_providers": list(self.required_providers),
            "approved_algorithms": _listed(self.approved_algorithms),
            "non_approved_algorithms": _listed(self.non_approved_algorithms),
            "minimum_versions": dict(self.minimum_versions), "unvalidated": self.unvalidated,
            "fips_mode_from_kernel": self.fips_mode_from_kernel,
            "waivers": [w.to_dict() for w in self.waivers]}


def _listed(items: tuple[str, ...] | None) -> list[str] | None:
    return None if items is None else list(items)
