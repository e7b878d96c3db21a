"""Node.js runtimes in the target and how the image starts them.

Node initialises OpenSSL from the ``nodejs_conf`` section of its configuration, not from
``openssl_conf``, unless started with ``--openssl-shared-config``; ``--openssl-config=FILE``
replaces the file (``OPENSSL_CONF``, else the OpenSSL directory's ``openssl.cnf``), and
``--enable-fips`` / ``--force-fips`` turn FIPS on at start (Node aborts when it cannot). These
flags come from the command that starts it (ENTRYPOINT/CMD) and from ``NODE_OPTIONS``.

A runtime is an object that defines N-API (``napi_module_register``): Debian's ``libnode.so``
(whose ``node`` program links the system libcrypto) or an official ``node`` binary, which
carries its own OpenSSL. Where the target can run commands, the image's own ``node`` runs a
probe inside the target's container, with the image's environment and start-up flags.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..elf import ElfError
from ..errors import EvidenceError
from .inventory import ElfSummary, inventory, read_elf
from .linkage import linkage
from .runtime_objects import objects_defining
from .signatures import LIBCRYPTO_NAME, banners, compiled_dirs

if TYPE_CHECKING:
    from ..runner import ScanContext

NODE = re.compile(r"^(node|nodejs|libnode\.so(\.\d+)*)$")
NODE_PROGRAM = re.compile(r"^(node|nodejs)(\d+)?$")
SHELLS = ("sh", "bash", "dash", "ash")
FIPS_FLAGS = ("--enable-fips", "--force-fips")
# What the image's node runs to confirm: its FIPS switch, MD5 refused or served, its OpenSSL.
PROBE = ("const c = require('crypto'); let md5 = 'served';"
         "try { c.createHash('md5').update('x').digest('hex'); }"
         " catch (e) { md5 = 'refused: ' + e.message; }"
         "console.log(JSON.stringify({fips: c.getFips(), md5, openssl: process.versions.openssl,"
         " shared_openssl: process.config.variables.node_shared_openssl}));")


@dataclass
class NodeStart:
    """The node options that apply when the image starts node."""

    started_by: str  # "ENTRYPOINT/CMD", or why the command line is not known
    command: list[str]
    flags: list[str]  # node's options on that command line
    env_options: list[str]  # from NODE_OPTIONS

    @property
    def options(self) -> list[str]:
        return [*self.flags, *self.env_options]

    @property
    def shared_config(self) -> bool:
        return "--openssl-shared-config" in self.options

    @property
    def fips_flags(self) -> list[str]:
        return [o for o in self.options if o in FIPS_FLAGS]

    @property
    def config_file(self) -> str | None:
        found = None
        for i, option in enumerate(self.options):
            if option.startswith("--openssl-config="):
                found = option.split("=", 1)[1]
            elif option == "--openssl-config" and i + 1 < len(self.options):
                found = self.options[i + 1]
        return found


@dataclass
class NodeRuntime:
    node: str  # the object that is Node (libnode.so or a node binary)
    programs: list[str]  # the executables that run it
    libcrypto: list[str]  # the shared libcrypto the loader gives it; empty when bundled
    bundled_openssl: list[str]  # banners of an OpenSSL carried inside it
    openssldir: str | None  # compiled into a bundled OpenSSL
    run: dict[str, Any] | None = None  # what the probe saw inside the target


@dataclass
class NodeRuntimes:
    runtimes: list[NodeRuntime] = field(default_factory=list)
    start: NodeStart | None = None
    malformed: dict[str, str] = field(default_factory=dict)


def node_start(ctx: ScanContext) -> NodeStart:
    config = ctx.target.config
    from_env = shlex.split(config.env.get("NODE_OPTIONS") or "")
    command = [*config.entrypoint, *config.cmd]
    if command[:1] and posixpath.basename(command[0]) in SHELLS and "-c" in command[1:-1]:
        command = shlex.split(command[command.index("-c") + 1])
    at = next((i for i, word in enumerate(command)
               if NODE_PROGRAM.match(posixpath.basename(word))), None)
    if at is None:
        why = (f"the image starts {command[0]}, not node: node's own flags are not known"
               if command else "the image names no command")
        return NodeStart(why, command, [], from_env)
    flags = []
    for word in command[at + 1:]:
        if not word.startswith("-") or word in ("-e", "--eval", "-p", "--print", "-"):
            break
        flags.append(word)
    return NodeStart("ENTRYPOINT/CMD", command, flags, from_env)


def node_runtimes(ctx: ScanContext) -> NodeRuntimes:
    fs = ctx.target.filesystem
    objects = objects_defining(ctx, NODE, "napi_module_register")
    found = NodeRuntimes(malformed=dict(objects.malformed))
    if not objects.found:
        return found
    found.start = ctx.evidence(node_start)
    elves = ctx.evidence(inventory).elf
    closures = {c.program: c for c in ctx.evidence(linkage).closures}
    for node in objects.found:
        programs = _programs(node, elves)
        shared = any(LIBCRYPTO_NAME.match(n) for n in node.dynamic.needed)
        libcrypto = sorted({r.path for p in programs if p in closures for r in closures[p].libcrypto})
        try:
            bundled, dirs = ([], {}) if shared else read_elf(
                fs, node.path, lambda e: (banners(e, assembly=False), compiled_dirs(e)))
        except (ElfError, OSError) as error:
            found.malformed[node.path] = str(error)
            continue
        found.runtimes.append(NodeRuntime(node.path, programs, libcrypto, bundled,
                                          dirs.get("OPENSSLDIR")))
    if ctx.target.can_run:
        for runtime in found.runtimes:
            runtime.run = _confirm(ctx, runtime, found.start)
    return found


def _programs(node: ElfSummary, elves: list[ElfSummary]) -> list[str]:
    """The node executables that run this Node: itself, or those that need its library."""
    if node.interpreter is not None and NODE_PROGRAM.match(posixpath.basename(node.path)):
        return [node.path]
    soname = node.dynamic.soname or posixpath.basename(node.path)
    return sorted(e.path for e in elves if soname in e.dynamic.needed and e.interpreter
                  and NODE_PROGRAM.match(posixpath.basename(e.path)))


def _confirm(ctx: ScanContext, runtime: NodeRuntime, start: NodeStart | None) -> dict[str, Any]:
    """Run the probe with the image's node, its environment (NODE_OPTIONS, OPENSSL_CONF ...)
    and the flags the image starts node with, inside the target's container."""
    if not runtime.programs:
        return {"skipped": "no node program runs this library"}
    flags = start.flags if start else []  # NODE_OPTIONS reaches node through the environment
    result = ctx.target.exec([runtime.programs[0], *flags, "-e", PROBE])
    seen: dict[str, Any] = {"argv": [runtime.programs[0], *flags, "-e", "<probe>"],
                            "exit_code": result.exit_code}
    if result.exit_code != 0:
        seen["stderr"] = result.stderr.decode("utf-8", "replace")[-500:]
        return seen
    try:
        seen.update(json.loads(result.stdout.decode("utf-8", "replace").strip().splitlines()[-1]))
    except (ValueError, IndexError):
        raise EvidenceError(f"{runtime.programs[0]} printed no probe result: {result.text[:200]!r}") from None
    return seen
