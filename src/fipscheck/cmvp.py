"""CMVP certificates from the versioned data file ``data/cmvp.toml``: which certificate, if
any, covers a crypto module of a given kind, name and version. "FIPS mode is on" and "a
validated module is in use" are different facts; this module answers the second."""

from __future__ import annotations

import datetime
import fnmatch
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .tomlcompat import tomllib

STATUSES = ("active", "historical", "revoked", "in process", "unconfirmed")


@dataclass(frozen=True)
class CmvpRow:
    kind: str
    versions: tuple[str, ...]
    status: str
    source: str
    confirmed: str
    name: str | None = None
    certificate: int | None = None
    standard: str | None = None
    sunset: datetime.date | None = None

    def matches(self, kind: str, name: str | None, version: str | None) -> bool:
        return (kind == self.kind and version is not None
                and (self.name is None or (name is not None and fnmatch.fnmatchcase(name, self.name)))
                and any(fnmatch.fnmatchcase(version, v) for v in self.versions))

    def to_dict(self) -> dict[str, Any]:
        return {"certificate": self.certificate, "standard": self.standard, "status": self.status,
                "sunset": self.sunset.isoformat() if self.sunset else None,
                "source": self.source, "confirmed": self.confirmed}


@functools.lru_cache(maxsize=1)
def rows() -> tuple[CmvpRow, ...]:
    """The data file's rows, checked as they are read (a test proves the file parses)."""
    document = tomllib.loads(resources.files("fipscheck").joinpath("data/cmvp.toml").read_text())
    found = []
    for number, row in enumerate(document["module"], 1):
        known = {f for f in CmvpRow.__dataclass_fields__}
        extra = set(row) - known
        if extra or row.get("status") not in STATUSES:
            raise ValueError(f"cmvp.toml row {number}: unknown keys {sorted(extra)} or bad status")
        found.append(CmvpRow(**{**row, "versions": tuple(row["versions"])}))
    return tuple(found)


def data_version() -> dict[str, Any]:
    document = tomllib.loads(resources.files("fipscheck").joinpath("data/cmvp.toml").read_text())
    return {"version": document["version"], "updated": document["updated"].isoformat()}


def lookup(kind: str, name: str | None, version: str | None) -> CmvpRow | None:
    """The first row for the module, or None: no certificate known for this version."""
    return next((row for row in rows() if row.matches(kind, name, version)), None)


def certificate_text(row: CmvpRow | None) -> str:
    """One line for a report: "CMVP #4985 (FIPS 140-3, active)" or why there is none."""
    if row is None:
        return "no certificate known for this version"
    if row.certificate is None:
        return f"certificate not confirmed ({row.status})"
    return f"CMVP #{row.certificate} ({row.standard}, {row.status})"


def validated(row: CmvpRow | None, today: datetime.date) -> bool:
    """Whether the row proves a certificate that covers the module today."""
    return (row is not None and row.certificate is not None and row.status == "active"
            and (row.sunset is None or row.sunset >= today))
