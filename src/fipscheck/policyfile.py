"""Policy files: TOML given with ``--policy FILE`` / ``--fips-policy FILE`` (ini
``fips_policy``), or the ``[tool.fipscheck]`` table of the nearest ``pyproject.toml`` that
has one (searched upwards from the working directory, as pytest finds its configuration).

Validated on load: an unknown key, a wrong type, a bad glob, an unknown check ID or algorithm
is a ``PolicyError`` naming the file, the key and what was expected. Presets (``preset =
"rhel"``) come from ``data/presets.toml``; the file's own keys then add to or override them,
and ``Policy.decided_by`` records which of the two set each key."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, cast

from .checks import closest_ids
from .errors import FipscheckError
from .policy import DEFAULT_BANNED, BannedLibrary, Policy, Waiver, glob_pattern
from .tomlcompat import tomllib

# The algorithms the native checker tests (native/fips-startup-check.c): a policy chooses
# among them which must give their known answers and which must be refused.
CHECKER_APPROVED = ("SHA-256", "SHA-384", "HMAC-SHA256", "AES-256-GCM", "AES-256-CBC")
CHECKER_NON_APPROVED = ("MD5", "MD4", "RC4", "DES", "HMAC-MD5")
MODULE_KINDS = ("openssl-fips-provider", "go-cryptographic-module", "boringcrypto", "wolfcrypt",
                "aws-lc")


class PolicyError(FipscheckError):
    """A policy file that cannot be used: the message names the file, the key, what was
    expected (the CLI exits 2, pytest stops with a usage error)."""


class _Reader:
    """Reads one policy document, raising PolicyError with the file and key on any problem."""

    def __init__(self, source: str, document: dict[str, Any], check_ids: list[str]) -> None:
        self.source, self.document, self.check_ids = source, document, check_ids

    def fail(self, key: str, expected: str, got: Any = None) -> PolicyError:
        shown = "" if got is None else f", got {got!r}"
        return PolicyError(f"{self.source}: {key}: expected {expected}{shown}")

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value

    def strings(self, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, "an array of strings", value)
        return tuple(self.string(f"{key}[{i}]", item) for i, item in enumerate(value))

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def choice(self, key: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(key, f"one of {', '.join(map(repr, choices))}", value)
        return cast(str, value)  # one of the choices

    def glob(self, key: str, value: Any, *, absolute: bool) -> str:
        text = self.string(key, value)
        if absolute and not text.startswith("/"):
            raise self.fail(key, "an absolute path glob (starting with /)", value)
        problem = _glob_problem(text)
        if problem:
            raise self.fail(key, f"a valid glob ({problem})", value)
        return text

    def check_id(self, key: str, value: Any) -> str:
        text = self.string(key, value)
        if text not in self.check_ids:
            close = closest_ids(text, self.check_ids)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise self.fail(key, f"a check ID{hint}; `fipscheck checks` lists them", value)
        return text

    def table(self, key: str, value: Any, known: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        for name in value:
            if name not in known:
                raise self.unknown(f"{key}.{name}" if key else name, known)
        return value

    def unknown(self, key: str, known: tuple[str, ...]) -> PolicyError:
        from difflib import get_close_matches  # here: only a mistake needs it

        close = get_close_matches(key.rsplit(".", 1)[-1], known, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return PolicyError(f"{self.source}: {key}: unknown key (known: {', '.join(known)}){hint}")

    def date(self, key: str, value: Any) -> datetime.date:
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(key, "a date (expires = 2027-01-31, or the string \"2027-01-31\")", value)


def _glob_problem(glob: str) -> str | None:
    """What fnmatch would silently get wrong: a NUL, an unclosed or reversed ``[...]`` class."""
    if "\0" in glob:
        return "a NUL byte"
    for match in re.finditer(r"\[(!?)([^\]]*)(\]?)", glob):
        if not match.group(3):
            return f"an unclosed [ at {match.start()}"
        for low, high in re.findall(r"(.)-(.)", match.group(2)):
            if low > high:
                return f"the reversed range {low}-{high}"
    try:
        glob_pattern(glob)
    except re.error as error:
        return str(error)
    return None


TOP_KEYS = ("preset", "description", "skip", "ignore_paths", "required_tools", "required_providers",
            "allow_sha1", "unvalidated", "banned_libraries", "algorithms", "minimum_versions",
            "waivers", "fips_mode_from_kernel")
WAIVER_KEYS = ("check", "reason", "path", "image", "expires")


def _banned(r: _Reader, value: Any, current: tuple[BannedLibrary, ...]) -> tuple[BannedLibrary, ...]:
    table = r.table("banned_libraries", value, ("add", "remove"))
    known = {b.family for b in DEFAULT_BANNED} | {b.family for b in current}
    removed = set(r.strings("banned_libraries.remove", table.get("remove", [])))
    for family in removed - known:
        raise r.fail("banned_libraries.remove", f"a banned family ({', '.join(sorted(known))})", family)
    result = [b for b in current if b.family not in removed]
    added = table.get("add", [])
    if not isinstance(added, list):
        raise r.fail("banned_libraries.add", "an array of tables {family, files, reason}", added)
    for i, entry in enumerate(added):
        key = f"banned_libraries.add[{i}]"
        entry = r.table(key, entry, ("family", "files", "reason"))
        files = r.strings(f"{key}.files", entry.get("files"))
        for j, glob in enumerate(files):
            r.glob(f"{key}.files[{j}]", glob, absolute=False)
        pattern = re.compile("|".join(f"(?:{glob_pattern(g).pattern})" for g in files))
        result.append(BannedLibrary(r.string(f"{key}.family", entry.get("family")), pattern,
                                    r.string(f"{key}.reason", entry.get("reason"))))
    return tuple(result)


def _algorithms(r: _Reader, value: Any) -> dict[str, tuple[str, ...]]:
    table = r.table("algorithms", value, ("approved", "non_approved"))
    chosen = {}
    for key, known in (("approved", CHECKER_APPROVED), ("non_approved", CHECKER_NON_APPROVED)):
        if key in table:
            names = r.strings(f"algorithms.{key}", table[key])
            for name in names:
                if name not in known:
                    raise r.fail(f"algorithms.{key}", f"algorithms the native checker tests "
                                 f"({', '.join(known)})", name)
            chosen[f"{key}_algorithms"] = names
    return chosen


def _waivers(r: _Reader, value: Any) -> tuple[Waiver, ...]:
    if not isinstance(value, list):
        raise r.fail("waivers", "an array of tables ([[waivers]])", value)
    found = []
    for i, entry in enumerate(value):
        key = f"waivers[{i}]"
        entry = r.table(key, entry, WAIVER_KEYS)
        if "check" not in entry or "reason" not in entry:
            raise r.fail(key, "`check` and `reason` (and optionally path, image, expires)")
        found.append(Waiver(
            check=r.check_id(f"{key}.check", entry["check"]),
            reason=r.string(f"{key}.reason", entry["reason"]),
            path=r.glob(f"{key}.path", entry["path"], absolute=True) if "path" in entry else None,
            image=r.glob(f"{key}.image", entry["image"], absolute=False) if "image" in entry else None,
            expires=r.date(f"{key}.expires", entry["expires"]) if "expires" in entry else None))
    return tuple(found)


def _minimum_versions(r: _Reader, value: Any) -> dict[str, str]:
    table = r.table("minimum_versions", value, MODULE_KINDS)
    return {kind: r.string(f"minimum_versions.{kind}", version) for kind, version in table.items()}


def _apply(r: _Reader, policy: Policy, origin: str) -> Policy:
    """The document's keys over ``policy``; every key set is recorded as decided by origin."""
    doc = r.document
    changes: dict[str, Any] = {}
    simple: dict[str, Callable[[str, Any], Any]] = {
        "ignore_paths": lambda k, v: tuple(r.glob(f"{k}[{i}]", g, absolute=True)
                                           for i, g in enumerate(r.strings(k, v))),
        "required_tools": r.strings,
        "required_providers": r.strings,
        "allow_sha1": r.boolean,
        "fips_mode_from_kernel": r.boolean,
        "unvalidated": lambda k, v: r.choice(k, v, ("warn", "fail")),
        "minimum_versions": lambda k, v: _minimum_versions(r, v),
        "waivers": lambda k, v: policy.waivers + _waivers(r, v),
    }
    for key, read in simple.items():
        if key in doc:
            changes[key] = read(key, doc[key])
    if "skip" in doc:
        table = doc["skip"]
        if not isinstance(table, dict):
            raise r.fail("skip", 'a table of check ID = "reason"', table)
        changes["skip"] = {**policy.skip, **{r.check_id(f"skip.{k}", k): r.string(f"skip.{k}", v)
                                             for k, v in table.items()}}
    if "banned_libraries" in doc:
        changes["banned_libraries"] = _banned(r, doc["banned_libraries"], policy.banned_libraries)
    if "algorithms" in doc:
        changes.update(_algorithms(r, doc["algorithms"]))
    decided = {**policy.decided_by, **{key: origin for key in changes}}
    return replace(policy, decided_by=decided, **changes)


def presets() -> dict[str, dict[str, Any]]:
    """The preset documents by name (data/presets.toml)."""
    text = resources.files("fipscheck").joinpath("data/presets.toml").read_text()
    return tomllib.loads(text)


def policy_from_document(document: dict[str, Any], source: str, check_ids: list[str],
                         base: Policy | None = None) -> Policy:
    """A Policy from a parsed TOML document (a file's, or pyproject's [tool.fipscheck])."""
    reader = _Reader(source, document, check_ids)
    reader.table("", document, TOP_KEYS)
    policy = base or Policy()
    preset = document.get("preset")
    if preset is not None:
        known = presets()
        reader.choice("preset", preset, tuple(known))
        preset_doc = {k: v for k, v in known[preset].items() if k != "description"}
        policy = _apply(_Reader(f"preset {preset}", preset_doc, check_ids), policy, f"preset {preset}")
        policy = replace(policy, preset=preset)
    return replace(_apply(reader, policy, source), source=source)


def load_policy(path: str | Path, base: Policy | None = None) -> Policy:
    """The policy in a TOML file (a policy file, or a pyproject.toml's [tool.fipscheck])."""
    from .checks import all_checks

    path = Path(path)
    try:
        with path.open("rb") as f:
            document = tomllib.load(f)
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: not valid TOML: {error}") from None
    if path.name == "pyproject.toml":
        document = document.get("tool", {}).get("fipscheck", {})
        source = f"{path} [tool.fipscheck]"
    else:
        source = str(path)
    return policy_from_document(document, source, [c.id for c in all_checks()], base)


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml upwards from ``start`` (the working directory) that has a
    [tool.fipscheck] table; None when there is none (zero configuration)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                with candidate.open("rb") as f:
                    if "fipscheck" in tomllib.load(f).get("tool", {}):
                        return candidate
            except (OSError, tomllib.TOMLDecodeError):
                continue
    return None


def resolve_policy(path: str | Path | None, *, required_tools: tuple[str, ...] = (),
                   skip_dirs: tuple[str, ...] = (), skip_files: tuple[str, ...] = (),
                   start: Path | None = None) -> Policy:
    """The policy a front end uses: the named file, else pyproject's [tool.fipscheck], else
    the default; tools required and globs skipped on the command line are added to the file's."""
    found = Path(path) if path else find_pyproject(start)
    policy = load_policy(found) if found else Policy()
    for key, given in (("required_tools", required_tools), ("skip_dirs", skip_dirs),
                       ("skip_files", skip_files)):
        if given:
            change: dict[str, Any] = {key: tuple(dict.fromkeys((*getattr(policy, key), *given)))}
            policy = replace(policy, **change,
                             decided_by={**policy.decided_by, key: "command line"})
    return policy
