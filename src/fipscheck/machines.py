"""Processor architectures by the names fipscheck meets them under: the ELF header's
``e_machine`` (what a file really is), ``uname -m`` (what a kernel runs), and Docker's and
Debian's names (``amd64``, ``arm64``)."""

from __future__ import annotations

# uname -m name -> ELF e_machine
E_MACHINE = {"x86_64": 62, "aarch64": 183, "i386": 3, "arm": 40, "ppc64le": 21, "s390x": 22,
             "riscv64": 243}
ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64", "i686": "i386",
           "i586": "i386", "armv7l": "arm", "armv8l": "arm", "armhf": "arm", "ppc64": "ppc64le",
           "ppc64el": "ppc64le"}
_NAMES = {number: name for name, number in E_MACHINE.items()}


def canonical(name: str) -> str:
    """``uname -m``'s name for an architecture named by uname, Docker or Debian."""
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def machine_name(e_machine: int) -> str:
    """The architecture of an ELF ``e_machine`` value (``EM_<n>`` when fipscheck has no name)."""
    return _NAMES.get(e_machine, f"EM_{e_machine}")
