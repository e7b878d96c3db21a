"""Which package owns a file, from the target's package database read as files (nothing of
the target runs): dpkg's ``/var/lib/dpkg/info/*.list``. An RPM database (``rpmdb.sqlite``,
Berkeley DB ``Packages``, ndb ``Packages.db``) holds its file lists in RPM header blobs that
only ``rpm`` itself decodes reliably, so it is reported as present but not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EvidenceError

if TYPE_CHECKING:
    from ..runner import ScanContext

DPKG_INFO = "/var/lib/dpkg/info"
RPM_DATABASES = ("/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db",
                 "/usr/lib/sysimage/rpm/rpmdb.sqlite")
LIST_LIMIT = 64 << 20  # bytes of .list files read in all: a hostile image cannot make it unbounded


@dataclass
class PackageOwners:
    owners: dict[str, str] = field(default_factory=dict)  # path -> package
    database: str | None = None  # "dpkg", or a note on what could not be read
    note: str | None = None


def _usr_twin(path: str) -> str:
    """/lib/x <-> /usr/lib/x: on merged-/usr systems dpkg lists either form."""
    return path[4:] if path.startswith("/usr/") else "/usr" + path


def package_owners(ctx: ScanContext) -> PackageOwners:
    fs = ctx.target.filesystem
    found = PackageOwners()
    rpm = next((p for p in RPM_DATABASES if fs.exists(p)), None)
    if rpm:
        found.note = f"RPM database {rpm} present but not read: its file lists are in RPM headers"
    try:
        names = sorted(fs.listdir(DPKG_INFO))
    except (OSError, EvidenceError):
        return found
    found.database = "dpkg"
    budget = LIST_LIMIT
    for name in names:
        if not name.endswith(".list"):
            continue
        try:
            data = fs.read_bytes(f"{DPKG_INFO}/{name}", budget + 1)
        except (OSError, EvidenceError):
            continue
        budget -= len(data)
        if budget < 0:
            found.note = f"dpkg file lists larger than {LIST_LIMIT} bytes: owners not complete"
            break
        package = name[:-5].split(":")[0]
        for line in data.decode("utf-8", "surrogateescape").splitlines():
            found.owners.setdefault(line, package)
    return found


def owners_of(ctx: ScanContext, paths: list[str]) -> dict[str, str]:
    """The owning package of each path that has one (evidence for a failure)."""
    known = ctx.evidence(package_owners).owners
    result = {}
    for path in paths:
        owner = known.get(path) or known.get(_usr_twin(path))
        if owner:
            result[path] = owner
    return result
