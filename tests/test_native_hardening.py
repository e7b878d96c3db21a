"""The shipped native binaries are built hardened, as read from their ELF by pyelftools (a reader
independent of fipscheck's own): stack protector, fortified libc calls, full RELRO with
immediate binding, PIE for the standalone, no executable stack. (test_native.py checks that
the standalone, hardened, still asks glibc for nothing newer than GLIBC_2.14.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import fipscheck._native
import pytest
from elftools.elf.constants import P_FLAGS
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from fipscheck import native

DF_BIND_NOW, DF_1_NOW, DF_1_PIE = 0x8, 0x1, 0x08000000
SHIPPED = {"standalone": native.executable_path(), "extension": Path(fipscheck._native.__file__)}


def hardening(path: Path) -> dict[str, object]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segments = {s["p_type"]: s for s in elf.iter_segments()}
        dynamic = next(s for s in elf.iter_sections() if isinstance(s, DynamicSection))
        tags = {t.entry.d_tag: t.entry.d_val for t in dynamic.iter_tags()}
        imports = {s.name for s in elf.get_section_by_name(".dynsym").iter_symbols()
                   if s["st_shndx"] == "SHN_UNDEF"}
        return {
            "type": elf["e_type"],
            "pie": bool(tags.get("DT_FLAGS_1", 0) & DF_1_PIE),
            "relro": "PT_GNU_RELRO" in segments,
            "bind_now": "DT_BIND_NOW" in tags or bool(tags.get("DT_FLAGS", 0) & DF_BIND_NOW)
                        or bool(tags.get("DT_FLAGS_1", 0) & DF_1_NOW),
            "stack_protector": "__stack_chk_fail" in imports,
            "fortified": sorted(n for n in imports if re.fullmatch(r"__\w+_chk", n)
                                and n != "__stack_chk_fail"),
            "executable_stack": bool(segments["PT_GNU_STACK"]["p_flags"] & P_FLAGS.PF_X),
        }


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_binaries_are_hardened(name):
    found = hardening(SHIPPED[name])
    assert found["relro"] and found["bind_now"], found
    assert found["stack_protector"] and found["fortified"], found
    assert not found["executable_stack"], found
    assert found["type"] == "ET_DYN"
    if name == "standalone":
        assert found["pie"], found


def test_a_users_build_does_not_turn_warnings_into_errors(tmp_path):
    """-Werror only where the project builds (scripts/testbed exports WERROR=-Werror)."""
    makefile = Path(__file__).resolve().parent.parent / "native" / "Makefile"
    out = subprocess.run(["make", "-s", "-n", "-C", str(makefile.parent), f"OUT={tmp_path}/x",
                          "WERROR="], capture_output=True, text=True, check=True).stdout
    assert "-Werror" not in out and "-D_FORTIFY_SOURCE=2" in out and "-Wl,-z,now" in out
    strict = subprocess.run(["make", "-s", "-n", "-C", str(makefile.parent), f"OUT={tmp_path}/x",
                             "WERROR=-Werror"], capture_output=True, text=True, check=True).stdout
    assert "-Werror" in strict
