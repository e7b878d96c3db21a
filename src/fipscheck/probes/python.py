"""The Python interpreters of a target and the facts ``python_interpreter`` gathers in each.

In an image the facts come from the image's own interpreters: the probe script is copied
into the container and run there, never on the host; on a host, by the host's interpreters
(the package's own copy of the script on ``local://``). In the current process
(``status()``) the same module is called directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..elf import MAGIC
from ..errors import EvidenceError
from ..targets.process import ProcessTarget
from . import python_interpreter

if TYPE_CHECKING:
    from ..fs import RootFilesystem
    from ..runner import ScanContext

PROBE_NAME = "python_interpreter.py"
# Searched after the image's PATH: where distributions and the official images put Python.
COMMON_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/opt/python/bin")
COMMAND_NAME = re.compile(r"^python3?(\.\d+)?$")
# What a command must resolve to: a Python 3 (so `python` -> python2.7 is left out).
INTERPRETER_NAME = re.compile(r"^python3(\.\d+)?$")


@dataclass
class PythonRuntime:
    interpreter: str  # as found (a command path in the target, or sys.executable)
    resolved: str  # the file it resolves to
    facts: dict[str, Any]


@dataclass
class PythonRuntimes:
    searched: list[str]
    runtimes: list[PythonRuntime] = field(default_factory=list)


def python_runtimes(ctx: ScanContext) -> PythonRuntimes:
    target = ctx.target
    if isinstance(target, ProcessTarget):
        executable = target.executable
        facts = python_interpreter.gather(may_import=False)  # this process's OpenSSL stays as is
        return PythonRuntimes([executable], [PythonRuntime(executable, executable, facts)])
    searched = search_dirs(target.config.env.get("PATH", ""))
    found = PythonRuntimes(searched)
    interpreters, launchers = find_interpreters(target.filesystem, searched)
    if launchers and not interpreters:  # python3 would run something fipscheck did not find
        raise EvidenceError(f"{', '.join(launchers)}: a script, not a Python interpreter, and no "
                            f"interpreter in {', '.join(searched)} for it to start")
    probe = ""
    if interpreters:
        probe = target.install(PROBE_NAME, Path(python_interpreter.__file__), 0o644)
    for command, resolved in interpreters:
        result = target.exec([command, "-B", probe])
        if result.exit_code != 0:
            raise EvidenceError(f"{command} could not run the probe (exit {result.exit_code}): "
                                f"{result.stderr.decode(errors='replace')[-500:]}")
        try:
            facts = json.loads(result.stdout)
        except ValueError:
            raise EvidenceError(f"{command} printed no JSON: {result.text[:200]!r}") from None
        found.runtimes.append(PythonRuntime(command, resolved, facts))
    return found


def search_dirs(path_variable: str) -> list[str]:
    from .tools import path_directories  # here: the process (status()) searches no PATH

    return list(dict.fromkeys([*path_directories(path_variable), *COMMON_DIRS]))


def find_interpreters(fs: RootFilesystem, dirs: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(command, resolved file) per distinct Python 3 interpreter, in search order: the
    image's PATH first, so a virtualenv there is run as the application would run it; and the
    launchers: scripts named like one (a pyenv shim, a wrapper), which are not run, as they
    only start an interpreter, found on its own where it is."""
    chosen: dict[str, str] = {}
    launchers: list[str] = []
    for directory in dirs:
        for command in sorted(_commands(fs, directory), key=_preference):
            try:
                resolved = fs.executable(command)
            except (OSError, EvidenceError):
                continue  # unreadable or looping: not an interpreter to run
            if not resolved or resolved in chosen.values() \
                    or not INTERPRETER_NAME.match(resolved.rsplit("/", 1)[-1]):
                continue
            if _is_program(fs, resolved):
                chosen[command] = resolved
            else:
                launchers.append(command)
    return list(chosen.items()), launchers


def _is_program(fs: RootFilesystem, path: str) -> bool:
    try:
        return fs.read_bytes(path, 4) == MAGIC
    except (OSError, EvidenceError):
        return False


def _commands(fs: RootFilesystem, directory: str) -> list[str]:
    try:
        names = fs.listdir(directory)
    except (OSError, EvidenceError):
        return []  # a PATH entry that is missing or not a directory holds no commands
    return [f"{directory.rstrip('/')}/{name}" for name in names if COMMAND_NAME.match(name)]


def _preference(command: str) -> tuple[int, str]:
    """python3 before python3.N before python: the name an application most likely runs."""
    name = command.rsplit("/", 1)[-1]
    return ({"python3": 0, "python": 2}.get(name, 1), name)


