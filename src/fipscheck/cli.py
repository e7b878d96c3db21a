"""The ``fipscheck`` command. Exit codes: 0 compliant, 1 not compliant, 2 could not check."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .errors import FipscheckError, NotCompliantError
from .inprocess import require, status
from .interrupts import sigterm_as_interrupt
from .model import FAIL_ON
from .native import executable_path
from .policyfile import resolve_policy
from .renderers import FORMATS, render
from .renderers.escape import json_text, visible
from .runner import scan, select_checks
from .targets import open_target

EXAMPLES = """examples:
  fipscheck scan registry.example/app:1.2
  fipscheck scan app:1.2 --policy fips-policy.toml --format junit=fips.xml --format sarif=fips.sarif
  fipscheck scan --rootfs ./root --format json --output report.json --fail-on never
exit codes: 0 compliant, 1 not compliant, 2 could not check (see --fail-on)"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fipscheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fipscheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_cmd = commands.add_parser("scan", help="check an image, a container, a host or a root "
                                   "filesystem", epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    where = scan_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("image", nargs="?", help="a container image known to the Docker engine")
    where.add_argument("--container", metavar="NAME", help="a running container (left as it is)")
    where.add_argument("--host", metavar="URL", help="a host through testinfra: local://, "
                       "ssh://user@host, docker://NAME, podman://NAME, kubectl://POD")
    where.add_argument("--rootfs", metavar="DIR", help="a root filesystem in a directory")
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
    scan_cmd.add_argument("-v", "--verbose", action="store_true",
                          help="text: every check's evidence, not only the failures'")
    scan_cmd.add_argument("--check", action="append", metavar="ID",
                          help="run only this check (repeatable)")
    _add_process_commands(commands)
    commands.add_parser("native-path", help="print the path of the bundled fips-startup-check "
                        "(to COPY into images)")
    commands.add_parser("checks", help="list the check IDs, one line each")
    return parser


def _add_process_commands(commands) -> None:
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
            print(executable_path())
        except FipscheckError as error:
            print(f"fipscheck: error: {error}", file=sys.stderr)
            return 2
        return 0
    sigterm_as_interrupt()
    return _scan(args)


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


def _scan(args: argparse.Namespace) -> int:
    kind = next(k for k in ("container", "host", "rootfs", "image") if getattr(args, k))
    json_out = any(spec.partition("=")[::2] == ("json", "") for spec in args.format or [])
    try:
        outputs = _outputs(args.format, args.output)
        policy = resolve_policy(args.policy, required_tools=tuple(args.require_tool))
        select_checks(args.check)  # an unknown check ID is refused before the target is opened
        with open_target(kind, getattr(args, kind)) as target:
            report = scan(target, policy, checks=args.check)
        for name, path in outputs:
            text = render(report, name, verbose=args.verbose)
            if path is None:
                _emit(text, name)
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
        return report.exit_code_for(args.fail_on)
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the exit flush is silent
        return 2
    except (FipscheckError, ValueError, OSError) as error:
        _error(str(error), json_out)
        return 2
    except KeyboardInterrupt:
        _error("interrupted", json_out)
        return 130


def _error(message: str, as_json: bool) -> None:
    """An error on stderr; with --format json on standard output, as a JSON document there too,
    so that a consumer parsing the output gets JSON whatever happened."""
    print(f"fipscheck: error: {visible(message)}", file=sys.stderr)
    if as_json:
        print(json_text({"schema_version": 1, "tool": {"name": "fipscheck", "version": __version__},
                         "verdict": "error", "error": message}))


def _emit(text: str, name: str) -> None:
    """Print to standard output whatever its encoding: a character it cannot show becomes an
    escape (XML character references for JUnit) instead of losing the report."""
    encoding = sys.stdout.encoding or "utf-8"
    errors = "xmlcharrefreplace" if name == "junit" else "backslashreplace"
    print(text.encode(encoding, errors).decode(encoding))


def _list_checks() -> int:
    from .checks import all_checks

    checks = all_checks()
    width = max(len(c.id) for c in checks) + 2
    for check in checks:
        runs = " (runs inside the target)" if check.needs_runtime else ""
        print(f"{check.id:{width}}{check.title}{runs}")
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
