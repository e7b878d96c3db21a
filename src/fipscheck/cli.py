"""The ``fipscheck`` command. Exit codes: 0 compliant, 1 not compliant, 2 could not check
(also when the Docker engine failed), 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from typing import TYPE_CHECKING

from . import __version__, progress
from .deadline import Deadline, ScanTimeout
from .errors import FipscheckError, NotCompliantError, TargetError
from .extras import needed
from .fs import GLOB_HELP
from .inprocess import require, status
from .interrupts import exit_code, signal_name, sigterm_as_interrupt
from .model import FAIL_ON, CheckResult, Report, Status
from .native import executable_path
from .renderers import FORMATS, render
from .renderers.escape import json_text, visible
from .runner import report_of, scan_results, select_checks, waiver_ledger
from .targets import SourceOptions, Target, open_target
from .targets.sources import PULL_POLICIES

if TYPE_CHECKING:
    from .policy import Policy
    from .waivers import WaiverLedger

EXAMPLES = """examples:
  fipscheck scan registry.example/app:1.2
  fipscheck scan registry:ghcr.io/org/app@sha256:4f1c...   # no daemon needed
  fipscheck scan app:1.2 --policy fips-policy.toml --format junit=fips.xml --format sarif=fips.sarif
  fipscheck scan --rootfs ./root --format json --output report.json --fail-on never
  fipscheck scan --host local:// --skip-dir '/opt/vendor/*' --timeout 600 -v"""
TOP_EXAMPLES = """examples:
  fipscheck scan registry.example/app:1.2     # an image: verdict, then every check
  fipscheck status                            # this Python process
  fipscheck preflight -- gunicorn app:app     # exec the command only when compliant
  fipscheck checks                            # the check IDs"""
EXIT_CODES = """exit codes:
  0  compliant: every applicable check passed
  1  not compliant: a check failed
  2  could not check: no engine, no such image, evidence that could not be gathered, nothing
     verified, a usage error
  130, 143  interrupted by SIGINT or SIGTERM (the checks that finished are reported)"""


def _epilog(examples: str) -> str:
    """Examples, exit codes and the check IDs, for --help."""
    listed = "\n".join(f"  {line}" for line in _check_lines())
    return f"{examples}\n\n{EXIT_CODES}\n\nchecks:\n{listed}"


def _check_lines() -> list[str]:
    """A line per check: its ID and what it proves."""
    from .checks import all_checks

    checks = all_checks()
    width = max(len(c.id) for c in checks) + 2
    return [f"{c.id:{width}}{c.title}{' (runs inside the target)' if c.needs_runtime else ''}"
            for c in checks]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fipscheck", description=__doc__.splitlines()[0],
                                     epilog=_LazyEpilog(TOP_EXAMPLES),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fipscheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="check an image, a container, a host or a root "
                                   "filesystem", epilog=_LazyEpilog(EXAMPLES),
                                   description="Check an image, a running container, a host or a "
                                   "root filesystem; report every check with its evidence.",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
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
    scan_cmd.add_argument("--format", action="append", metavar="FORMAT[=FILE]",
                          help=f"{'|'.join(FORMATS)}, to standard output or, with =FILE, to a file "
                          "(repeatable: one scan, several reports); default text")
    scan_cmd.add_argument("--output", metavar="FILE", help="write the (one) --format given without "
                          "=FILE to FILE instead of standard output")
    scan_cmd.add_argument("--policy", metavar="FILE", help="a TOML policy file (default: "
                          "[tool.fipscheck] of the nearest pyproject.toml, if any)")
    scan_cmd.add_argument("--fail-on", choices=FAIL_ON, default="fail",
                          help="what makes the exit code non-zero: fail (failures and errors, the "
                          "default), warn (warnings too), error (only could-not-check), never")
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
    commands.add_parser("checks", help="list the check IDs, one line each")
    return parser


class _LazyEpilog(str):
    """An epilog whose check list is made only when help is printed (listing the checks imports
    every check module, which a scan of a few checks need not)."""

    examples: str

    def __new__(cls, examples: str) -> _LazyEpilog:
        made = super().__new__(cls, examples)
        made.examples = examples
        return made

    def __str__(self) -> str:
        return _epilog(self.examples)

    def splitlines(self, keepends: bool = False) -> list[str]:  # what the formatter reads
        return str(self).splitlines(keepends)


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
                       help="a line per phase on stderr (time, files, bytes), terminal or not; "
                       "text reports: every check's evidence, not only the failures'")


def _add_process_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status_cmd = commands.add_parser("status", help="check this Python process (as fipscheck.status())")
    status_cmd.add_argument("--format", choices=FORMATS, default="text")
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
        _emit(render(report, args.format), args.format)
        return report.exit_code
    if args.command == "checks":
        return _list_checks()
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
    json_out = any(spec.partition("=")[::2] == ("json", "") for spec in args.format or [])
    from .policyfile import resolve_policy  # here: status and preflight read no policy file

    try:
        selected = [c.id for c in select_checks(args.check)]
        outputs = _outputs(args.format, args.output)
        policy = resolve_policy(args.policy, required_tools=tuple(args.require_tool),
                                skip_dirs=tuple(args.skip_dir), skip_files=tuple(args.skip_file))
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
        return _error(f"{error} while opening {name}", json_out)
    except (FipscheckError, ValueError, OSError) as error:
        return _error(str(error), json_out)
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt, json_out)
    results: list[CheckResult] = []
    stopped: KeyboardInterrupt | None = None
    cleanup_error: FipscheckError | None = None
    ledger = waiver_ledger(target, policy)
    try:
        results.extend(scan_results(target, policy, selected, deadline, ledger))
    except KeyboardInterrupt as interrupt:
        stopped = interrupt
    finally:
        try:
            target.close()
        except FipscheckError as error:
            cleanup_error = error
        except KeyboardInterrupt as interrupt:
            stopped = stopped or interrupt
    report = _report(target, policy, selected, results, stopped, ledger)
    try:
        _write(report, outputs, args.verbose)
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the exit flush is silent
        return 2
    except OSError as error:
        return _error(f"cannot write the report: {error}", False)
    if stopped is not None:
        return _interrupted(stopped, False)
    if cleanup_error is not None:
        return _error(f"{cleanup_error} (what is left is removed by the next run or "
                      "`fipscheck cleanup`)", False)
    if any(r.evidence.get("exception") == "EngineError" for r in results):
        return _error("the Docker engine failed during the scan: the report is incomplete", False)
    return report.exit_code_for(args.fail_on)


def _report(target: Target, policy: Policy, selected: list[str], results: list[CheckResult],
            stopped: KeyboardInterrupt | None, ledger: WaiverLedger) -> Report:
    """The results so far; checks that never ran are errors, so no verdict passes them."""
    done = {r.id for r in results}
    reason = f"not run: the scan was interrupted ({signal_name(stopped)})" if stopped else "not run"
    missing = [CheckResult(i, Status.ERROR, reason) for i in selected if i not in done]
    return report_of(target, policy, [*results, *missing], ledger)


def _write(report: Report, outputs: list[tuple[str, str | None]], verbose: bool) -> None:
    """Every report asked for, to standard output or its file."""
    for name, path in outputs:
        text = render(report, name, verbose=verbose)
        if path is None:
            _emit(text, name)
            sys.stdout.flush()
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")


def _error(message: str, as_json: bool) -> int:
    """An error on stderr (exit 2); with --format json on standard output, as a JSON document
    there too, so that a consumer parsing the output gets JSON whatever happened."""
    print(f"fipscheck: error: {visible(message)}", file=sys.stderr)
    if as_json:
        print(json_text({"schema_version": 1, "tool": {"name": "fipscheck", "version": __version__},
                         "verdict": "error", "error": message}))
    return 2


def _interrupted(interrupt: KeyboardInterrupt, as_json: bool) -> int:
    print(f"fipscheck: interrupted ({signal_name(interrupt)})", file=sys.stderr)
    if as_json:
        print(json_text({"schema_version": 1, "tool": {"name": "fipscheck", "version": __version__},
                         "verdict": "error", "error": f"interrupted ({signal_name(interrupt)})"}))
    return exit_code(interrupt)


def _cleanup(output: str) -> int:
    """Remove the run directories of runs that are gone and the containers they recorded;
    without an engine, directories holding containers are kept (exit 2). Records of
    containers made in another engine are left for a cleanup run against that engine."""
    from . import workdir  # here: a scan of a root creates no run directory

    engine_problem = None
    try:
        with needed("containers left behind"):  # Docker only for this command
            from .targets.engine import docker_client, reason, remove_recorded
        client = docker_client()
        client.ping()
        remover = functools.partial(remove_recorded, client)
    except TargetError as error:  # no engine (or no SDK): directories without containers still go
        engine_problem, remover = str(error), None
    except Exception as error:
        engine_problem, remover = f"the Docker engine did not answer: {reason(error)}", None
    try:
        reaped = workdir.reap(remover)
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt, False)
    if output == "json":
        print(json.dumps({**reaped.to_dict(), "engine": engine_problem or "reachable"}, indent=2))
    else:
        print(f"fipscheck cleanup: removed {len(reaped.directories)} run directories and "
              f"{len(reaped.containers)} containers of runs that are gone")
        for directory, why in reaped.kept.items():
            print(f"  kept {directory}: {why}")
        for directory, why in reaped.other_engines.items():
            print(f"  left {directory}: {why} (run the cleanup against that engine)")
    return 2 if reaped.kept else 0  # another engine's records are no failure of this one


def _outputs(formats: list[str] | None, output: str | None) -> list[tuple[str, str | None]]:
    """(format, file or None for standard output) pairs from --format F[=FILE] and --output."""
    pairs = []
    for spec in formats or ["text"]:
        name, equals, path = spec.partition("=")
        if name not in FORMATS:
            raise ValueError(f"unknown format {name!r} in --format {spec}; choose from {', '.join(FORMATS)}")
        if equals and not path:
            raise ValueError(f"--format {spec}: a file name is missing after =")
        pairs.append((name, path or None))
    to_stdout = [i for i, (_, path) in enumerate(pairs) if path is None]
    if output is not None:
        if len(to_stdout) != 1:
            raise ValueError("--output names the file of one --format given without =FILE")
        pairs[to_stdout[0]] = (pairs[to_stdout[0]][0], output)
    elif len(to_stdout) > 1:
        raise ValueError("only one --format can go to standard output: give the others =FILE")
    return pairs


def _emit(text: str, name: str) -> None:
    """Print to standard output whatever its encoding: a character it cannot show becomes an
    escape (XML character references for JUnit) instead of losing the report."""
    encoding = sys.stdout.encoding or "utf-8"
    errors = "xmlcharrefreplace" if name == "junit" else "backslashreplace"
    print(text.encode(encoding, errors).decode(encoding))


def _list_checks() -> int:
    print("\n".join(_check_lines()))
    return 0


def _preflight(argv: list[str], checks: list[str] | None, warn_only: bool) -> int:
    """Exec the command when compliant: same PID, so its signals and exit code are its own."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("fipscheck: error: preflight needs a command after --", file=sys.stderr)
        return 2
    try:
        require(checks)
    except NotCompliantError as error:
        # The pattern of native/fips-startup-check.c's preflight: one log format for both.
        for result in error.failed:
            print(f"fipscheck: {result.status.value.upper()} {result.id}: {visible(result.message)}",
                  file=sys.stderr)
        if not warn_only:
            print(f"fipscheck: not compliant: {command[0]} not started", file=sys.stderr)
            return 1
        print(f"fipscheck: not compliant: starting {command[0]} anyway (--warn-only)", file=sys.stderr)
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
