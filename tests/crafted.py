"""Hostile inputs made for the tests: ELF programs compiled here with gcc, Go build info put
into them with objcopy (as Go's linker lays it out), files that are not files. Used by the
fuzz targets (as seeds) and by the regression tests of crafted inputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fipscheck.probes.gobuild import FLAG_INLINE, MAGIC, SENTINEL

PROGRAM = ('#include <stdio.h>\nconst char banner[] = "crafted 1.0";\n'
           "int main(void) { puts(banner); return 0; }\n")
GO_FIPS_SETTINGS = {"CGO_ENABLED": "0", "GOFIPS140": "v1.0.0", "DefaultGODEBUG": "fips140=on",
                    "-tags": "fips140v1.0"}
CRYPTO_NAMES = b"\0main.main\0crypto/sha256.Sum256\0crypto/internal/fips140/v1.0.0/sha256.New\0"


def compile_program(directory: Path, name: str = "program", *flags: str) -> Path:
    """A small dynamic C program (symbols, .rodata, a dynamic section), built by gcc."""
    source = directory / f"{name}.c"
    source.write_text(PROGRAM)
    out = directory / name
    subprocess.run(["gcc", "-O1", "-o", str(out), str(source), *flags], check=True)
    return out


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def modinfo(settings: dict[str, str] | None = None, *, lines: str | None = None) -> str:
    """Module info text as the Go linker writes it: path, mod, then `build` settings (values
    already quoted where Go quotes them, as given)."""
    if lines is not None:
        return lines
    text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
    return text + "".join(f"build\t{key}={value}\n" for key, value in (settings or {}).items())


def buildinfo_blob(go_version: str, info: str) -> bytes:
    """A .go.buildinfo section of Go >= 1.18 (inline strings), modinfo between sentinels."""
    wrapped = b"\x30" * SENTINEL + info.encode("utf-8", "surrogateescape") + b"\xf9" * SENTINEL
    version = go_version.encode()
    header = MAGIC + bytes([8, FLAG_INLINE]) + bytes(32 - len(MAGIC) - 2)
    return header + uvarint(len(version)) + version + uvarint(len(wrapped)) + wrapped


def go_binary(directory: Path, name: str, info: str, go_version: str = "go1.24.4",
              names: bytes = CRYPTO_NAMES) -> Path:
    """An ELF with the sections fipscheck reads in a Go binary (.go.buildinfo, .gopclntab),
    made from a compiled C program: what a hostile image can put on disk."""
    work = directory / f".{name}-work"
    work.mkdir(parents=True, exist_ok=True)
    program = compile_program(work, "base")
    (work / "buildinfo").write_bytes(buildinfo_blob(go_version, info))
    (work / "pclntab").write_bytes(names)
    out = directory / name
    subprocess.run(["objcopy", "--add-section", f".go.buildinfo={work / 'buildinfo'}",
                    "--add-section", f".gopclntab={work / 'pclntab'}", str(program), str(out)],
                   check=True)
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()
    return out


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def symlink_loop(path: Path) -> Path:
    """``path`` -> ``path``.loop -> ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(path.name + ".loop", path)
    os.symlink(path.name, path.with_name(path.name + ".loop"))
    return path
