"""The ``fipscheck`` command. Exit codes: 0 compliant, 1 not compliant, 2 could not check."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__, progress
from .deadline import Deadline, ScanTimeout
from .errors import FipscheckError, NotCompliantError
from .fs import GLOB_HELP
from .inprocess import require, status
from .interrupts import sigterm_as_interrupt
from .model import Report
from .native import executable_path
from .policy import Policy
from .render import to_json, to_text
from .runner import scan
from .targets import open_target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fipscheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fipscheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="check an image, a container, a host or a root "
                                   "filesystem")
    where = scan_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("image", nargs="?", help="a container image known to the Docker engine")
    where.add_argument("--container", metavar="NAME", help="a running container (left as it is)")
    where.add_argument("--host", metavar="URL", help="a host through testinfra: local://, "
                       "ssh://user@host, docker://NAME, podman://NAME, kubectl://POD")
    where.add_argument("--rootfs", metavar="DIR", help="a root filesystem in a directory")
    scan_cmd.add_argument("--require-tool", action="append", default=[], metavar="COMMAND",
                          help="a command that must be on the target's PATH (repeatable)")
    scan_cmd.add_argument("--format", choices=("text", "json"), default="text")
    scan_cmd.add_argument("--check", action="append", metavar="ID",
                          help="run only this check (repeatable)")
    _add_scope_options(scan_cmd)
    _add_process_commands(commands)
    native_path = commands.add_parser("native-path", help="print the path of the bundled "
                                      "fips-startup-check (to COPY into images)")
    native_path.add_argument("--arch", metavar="ARCH",
                             help="the one built for ARCH (x86_64, aarch64; amd64, arm64)")
    return parser


def _add_scope_options(scan_cmd: argparse.ArgumentParser) -> None:
    scan_cmd.add_argument("--skip-dir", action="append", default=[], metavar="GLOB",
                          help=f"do not walk directories matching GLOB ({GLOB_HELP}; repeatable)")
    scan_cmd.add_argument("--skip-file", action="append", default=[], metavar="GLOB",
                          help=f"leave files matching GLOB out of the walk ({GLOB_HELP}; repeatable)")
    scan_cmd.add_argument("--all-filesystems", action="store_true",
                          help="--host local://: walk every mounted filesystem, not only the "
                          "root's (virtual ones, container storage and other roots never)")
    scan_cmd.add_argument("--timeout", type=float, metavar="SECONDS",
                          help="limit the whole scan; checks not finished by then are errors")
    noise = scan_cmd.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    noise.add_argument("-v", "--verbose", action="store_true",
                       help="a line per phase on stderr (time, files, bytes), terminal or not")


def _add_process_commands(commands) -> None:
    status_cmd = commands.add_parser("status", help="check this Python process (as fipscheck.status())")
    status_cmd.add_argument("--format", choices=("text", "json"), default="text")
    preflight = commands.add_parser(
        "preflight", help="check this Python, then exec CMD; exit 1 instead if not compliant")
    preflight.add_argument("--warn-only", action="store_true",
                           help="print the failures but exec CMD anyway")
    preflight.add_argument("--check", action="append", metavar="ID",
                           help="require only this check to pass (repeatable)")
    preflight.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "status":
        report = status()
        print(to_json(report) if args.format == "json" else to_text(report))
        return report.exit_code
    if args.command == "preflight":
        return _preflight(args.argv, args.check, args.warn_only)
    if args.command == "native-path":
        try:
            print(executable_path(args.arch))
        except FipscheckError as error:
            print(f"fipscheck: error: {error}", file=sys.stderr)
            return 2
        return 0
    sigterm_as_interrupt()
    try:
        report = _scan(args)
        print(to_json(report) if args.format == "json" else to_text(report))
        return report.exit_code
    except (FipscheckError, ValueError, ScanTimeout) as error:
        print(f"fipscheck: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fipscheck: interrupted", file=sys.stderr)
        return 130


def _scan(args: argparse.Namespace) -> Report:
    kind = next(k for k in ("container", "host", "rootfs", "image") if getattr(args, k))
    policy = Policy(required_tools=tuple(args.require_tool), skip_dirs=tuple(args.skip_dir),
                    skip_files=tuple(args.skip_file))
    options = {"all_filesystems": True} if args.all_filesystems else {}
    if options and kind != "host":
        raise ValueError("--all-filesystems is for --host local://")
    deadline = Deadline(args.timeout)
    verbosity = progress.QUIET if args.quiet else progress.VERBOSE if args.verbose else progress.NORMAL
    with progress.reporting(sys.stderr, verbosity):
        target = None
        try:
            try:
                with deadline.armed():  # opening counts: pulling, creating, reaching a host
                    progress.phase(f"opening {getattr(args, kind)}")
                    target = open_target(kind, getattr(args, kind), **options)
            except ScanTimeout as error:
                raise ScanTimeout(f"{error} while opening {getattr(args, kind)}") from None
            return scan(target, policy, checks=args.check, deadline=deadline)
        finally:
            if target is not None:
                target.close()


def _preflight(argv: list[str], checks: list[str] | None, warn_only: bool) -> int:
    """Exec the command when compliant: same PID, so its signals and exit code are its own."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("fipscheck: error: preflight needs a command after --", file=sys.stderr)
        return 2
    try:
        require(checks)
    except NotCompliantError as error:
        for result in error.failed:
            print(f"fipscheck: {result.status.value.upper()} {result.id}: {result.message}",
                  file=sys.stderr)
        if not warn_only:
            return 1
    except ValueError as error:
        print(f"fipscheck: error: {error}", file=sys.stderr)
        return 2
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"fipscheck: cannot run {command[0]}: {error}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
