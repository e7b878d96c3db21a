"""The ``fipscheck`` command. Exit codes: 0 compliant, 1 not compliant, 2 could not check
(also when the Docker engine failed), 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

from . import __version__, progress, workdir
from .deadline import Deadline, ScanTimeout
from .errors import FipscheckError, NotCompliantError
from .fs import GLOB_HELP
from .inprocess import require, status
from .interrupts import exit_code, signal_name, sigterm_as_interrupt
from .model import CheckResult, Report, Status
from .native import executable_path
from .policy import Policy
from .render import to_json, to_text
from .runner import scan_results, select_checks
from .targets import SourceOptions, Target, open_target
from .targets.sources import PULL_POLICIES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fipscheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fipscheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="check an image, a container, a host or a root "
                                   "filesystem")
    where = scan_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("image", nargs="?", metavar="SOURCE", help=(
        "an image: NAME or docker:NAME (the Docker engine's), registry:REF (pulled without a "
        "daemon), docker-archive:FILE, oci-archive:FILE, oci-dir:DIR, or dir:DIR (a root "
        "filesystem)"))
    where.add_argument("--container", metavar="NAME", help="a running container (left as it is)")
    where.add_argument("--host", metavar="URL", help="a host through testinfra: local://, "
                       "ssh://user@host, docker://NAME, podman://NAME, kubectl://POD")
    where.add_argument("--rootfs", metavar="DIR", help="a root filesystem in a directory (= dir:DIR)")
    _add_source_options(scan_cmd)
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
    cleanup = commands.add_parser("cleanup", help="remove what runs killed outright left behind "
                                  "(their directories and containers; never a running one's)")
    cleanup.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _add_source_options(scan_cmd: argparse.ArgumentParser) -> None:
    sources = scan_cmd.add_argument_group("image sources")
    sources.add_argument("--pull", choices=PULL_POLICIES, default="missing",
                         help="when the engine pulls a docker: image (default: missing)")
    sources.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                         help="the image of this platform from a multi-arch index (default: this "
                              "machine's), e.g. linux/arm64")
    sources.add_argument("--insecure-registry", action="store_true",
                         help="reach a registry: source on this machine over plain HTTP")
    sources.add_argument("--config", metavar="FILE", default="",
                         help="image configuration (OCI/Docker config JSON or docker inspect "
                              "output) for a dir: source")
    sources.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                         help="environment of a dir: source (repeatable; overrides --config)")



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
    if args.command == "cleanup":
        return _cleanup(args.format)
    return _scan(args)


def _scan(args: argparse.Namespace) -> int:
    """Scan one target, with progress on stderr as -q and -v say."""
    sigterm_as_interrupt()
    verbosity = progress.QUIET if args.quiet else progress.VERBOSE if args.verbose else progress.NORMAL
    with progress.reporting(sys.stderr, verbosity):
        return _scan_reporting(args)


def _scan_reporting(args: argparse.Namespace) -> int:
    """Scan one target. Interrupted, out of time or with a failing engine, the checks that
    finished are still reported (the others as errors), then the reason, with its own exit
    code."""
    kind = next(k for k in ("container", "host", "rootfs", "image") if getattr(args, k))
    name = getattr(args, kind)
    try:
        selected = [c.id for c in select_checks(args.check)]
        policy = Policy(required_tools=tuple(args.require_tool), skip_dirs=tuple(args.skip_dir),
                        skip_files=tuple(args.skip_file))
        host_options = {"all_filesystems": True} if args.all_filesystems else {}
        if host_options and kind != "host":
            raise ValueError("--all-filesystems is for --host local://")
        options = SourceOptions.from_arguments(args.pull, args.platform, args.insecure_registry,
                                               args.config, args.env)
        deadline = Deadline(args.timeout)
        with deadline.armed():  # opening counts: pulling, creating, reaching a host
            progress.phase(f"opening {name}")
            target = open_target(kind, name, options, **host_options)
    except ScanTimeout as error:
        return _error(f"{error} while opening {name}")
    except (FipscheckError, ValueError) as error:
        return _error(str(error))
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)
    results: list[CheckResult] = []
    stopped: KeyboardInterrupt | None = None
    cleanup_error: FipscheckError | None = None
    try:
        results.extend(scan_results(target, policy, selected, deadline))
    except KeyboardInterrupt as interrupt:
        stopped = interrupt
    finally:
        try:
            target.close()
        except FipscheckError as error:
            cleanup_error = error
        except KeyboardInterrupt as interrupt:
            stopped = stopped or interrupt
    report = _report(target, selected, results, stopped)
    print(to_json(report) if args.format == "json" else to_text(report), flush=True)
    if stopped is not None:
        return _interrupted(stopped)
    if cleanup_error is not None:
        return _error(f"{cleanup_error} (what is left is removed by the next run or "
                      "`fipscheck cleanup`)")
    if any(r.evidence.get("exception") == "EngineError" for r in results):
        return _error("the Docker engine failed during the scan: the report is incomplete")
    return report.exit_code


def _report(target: Target, selected: list[str], results: list[CheckResult],
            stopped: KeyboardInterrupt | None) -> Report:
    """The results so far; checks that never ran are errors, so no verdict passes them."""
    done = {r.id for r in results}
    reason = f"not run: the scan was interrupted ({signal_name(stopped)})" if stopped else "not run"
    missing = tuple(CheckResult(i, Status.ERROR, reason) for i in selected if i not in done)
    return Report(target.describe(), (*results, *missing))


def _error(message: str) -> int:
    print(f"fipscheck: error: {message}", file=sys.stderr)
    return 2


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    print(f"fipscheck: interrupted ({signal_name(interrupt)})", file=sys.stderr)
    return exit_code(interrupt)


def _cleanup(output: str) -> int:
    """Remove the run directories of runs that are gone and the containers they recorded;
    without an engine, directories holding containers are kept (exit 2)."""
    from .targets.engine import docker_client, remove_recorded  # Docker only for this command

    engine_problem = None
    try:
        client = docker_client()
        client.ping()
        remover = functools.partial(remove_recorded, client)
    except Exception as error:  # no engine: directories without containers still go
        engine_problem, remover = f"no Docker engine: {error}", None
    try:
        reaped = workdir.reap(remover)
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)
    if output == "json":
        print(json.dumps({**reaped.to_dict(), "engine": engine_problem or "reachable"}, indent=2))
    else:
        print(f"fipscheck cleanup: removed {len(reaped.directories)} run directories and "
              f"{len(reaped.containers)} containers of runs that are gone")
        for directory, why in reaped.kept.items():
            print(f"  kept {directory}: {why}")
    return 2 if reaped.kept else 0


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
