"""The native checker (native/fips-startup-check.c) from Python.

``report()`` runs it in-process through the cffi extension ``fipscheck._native``: it inspects
the libcrypto this process has already loaded (e.g. by ``_hashlib``), or the one the dynamic
linker would find, and returns the same JSON document the standalone prints. Its intrusive
probes (loading the configuration to watch the FIPS self-tests) use a private OpenSSL library
context, so the process's OpenSSL state is left as it was.

``executable_path()`` is the standalone executable shipped in the package, for copying into
images (``fipscheck native-path``) and for fipscheck's in-container probe: the build's own in
``bin/``, and the ones cross-built for other architectures in ``bin/<arch>/`` (``setup.py``
builds them where a cross compiler is installed), for targets of that architecture.
``helper_path(arch)`` is fipscheck's static helper (native/fipscheck-helper.c: the keepalive of
fipscheck's containers and the runner that bounds every command run in a container) for an
architecture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import EvidenceError

EXECUTABLE = Path(__file__).parent / "bin" / "fips-startup-check"
# The helper's architecture by the names Docker (Go) gives them.
HELPER_ARCHES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}

# report() keyword -> the checker's option; True/False flags take no value.
_OPTIONS = {
    "libcrypto": "--libcrypto",
    "wolfssl": "--wolfssl",
    "try_fips_mode_set": "--try-fips-mode-set",
    "require_provider": "--require-provider",
    "require_wolfssl": "--require-wolfssl",
}


def options_to_argv(**options: Any) -> list[str]:
    """The checker's command-line options for report()'s keywords (shared with the probe)."""
    argv: list[str] = []
    for name, value in options.items():
        if name not in _OPTIONS:
            raise TypeError(f"unknown option {name!r}; known: {', '.join(sorted(_OPTIONS))}")
        if isinstance(value, bool):
            argv += [_OPTIONS[name]] if value else []
            continue
        for item in [value] if isinstance(value, str | Path) else value:
            argv += [_OPTIONS[name], str(item)]
    return argv


def report(**options: Any) -> dict[str, Any]:
    """The FIPS report of this process's crypto libraries (schema_version 1). Options:
    libcrypto/wolfssl (explicit library paths), try_fips_mode_set (OpenSSL 1.x: tell
    "FIPS-capable but off" from "not capable"; this one does change the process),
    require_provider (names), require_wolfssl."""
    # built by pip install; imported late so the rest works without. A cffi extension
    # module: no Python source or stubs for mypy to read.
    from ._native import ffi, lib  # type: ignore[import-not-found]

    argv = ["fipscheck", *options_to_argv(**options)]
    keep = [ffi.new("char[]", arg.encode()) for arg in argv]
    raw = lib.fsc_report_json(len(keep), ffi.new("char *[]", keep))
    if raw == ffi.NULL:
        raise MemoryError("the native checker could not allocate its report")
    try:
        document: dict[str, Any] = json.loads(ffi.string(raw).decode("utf-8", errors="replace"))
    finally:
        lib.fsc_free(raw)
    if "usage_error" in document:
        raise ValueError(f"native checker: {document['usage_error']}")
    return document


def executable_path(arch: str | None = None) -> Path:
    """The standalone fips-startup-check inside the installed package: this build's own, or
    the one built for ``arch`` (as ``uname -m``, Docker or Debian name it: ``aarch64``,
    ``arm64``), recognised by its ELF header rather than its place."""
    if not EXECUTABLE.is_file():
        raise EvidenceError(f"{EXECUTABLE} is missing: reinstall fipscheck (pip builds it with make)")
    if arch is None:
        return EXECUTABLE
    from .machines import E_MACHINE, canonical  # only here: report() needs nothing but errors.py

    wanted = canonical(arch)
    shipped = shipped_executables()
    if wanted not in shipped:
        have = ", ".join(sorted(shipped)) or "none"
        hint = (f" (setup.py builds it where {wanted}-linux-gnu-gcc is installed)"
                if wanted in E_MACHINE else "")
        raise EvidenceError(f"this fipscheck has no fips-startup-check for {wanted}, only for "
                            f"{have}{hint}")
    return shipped[wanted]


def shipped_executables() -> dict[str, Path]:
    """Architecture -> the standalone checker built for it, of those in the package."""
    from .elf import ElfError, ElfFile
    from .machines import machine_name

    found: dict[str, Path] = {}
    for candidate in [EXECUTABLE, *sorted(EXECUTABLE.parent.glob("*/fips-startup-check"))]:
        try:
            with candidate.open("rb") as f:
                found.setdefault(machine_name(ElfFile(f).machine), candidate)
        except (OSError, ElfError):
            continue
    return found


def helper_path(arch: str) -> Path:
    """The static fipscheck-helper for an image architecture (Docker's ``amd64``, ``arm64``)."""
    machine = HELPER_ARCHES.get(arch)
    if machine is None:
        raise EvidenceError(f"fipscheck has no helper for the {arch} architecture (only "
                            f"{', '.join(sorted(set(HELPER_ARCHES.values())))})")
    path = EXECUTABLE.with_name(f"fipscheck-helper.{machine}")
    if not path.is_file():
        raise EvidenceError(f"{path} is missing: reinstall fipscheck (pip builds it with make; the "
                            f"{machine} one needs that architecture's compiler)")
    return path
