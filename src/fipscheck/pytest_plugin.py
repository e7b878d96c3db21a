"""pytest plugin: ``pytest --fips-image=IMAGE`` (or ``--fips-container``, ``--fips-host``,
``--fips-rootfs``, or the ini options of the same names) collects one test item per built-in
check per target, from any directory, and offers fixtures for users' own tests on the same
targets: ``fips_target``, ``fips_host``, ``fips_report``, ``fips_native``.

Each target is opened once per process (per xdist worker), when its first item or fixture
needs it, and closed at the end of the session whatever happened (failure, Ctrl-C, SIGTERM).

A check item's ID, ``fips[TARGET]::CHECK-ID``, is no file path, which pytest requires of a
positional argument: the plugin takes such arguments (and ``fips[TARGET]``, every check on
it) off the command line before pytest reads it, as ``--fips-select``, so an ID copied from a
report, or passed by an IDE's re-run button, re-runs that item (its target opened from the
ID when no option names it).
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from _pytest.runner import runtestprotocol

from .checks import Check
from .deadline import Deadline, ScanTimeout
from .errors import FipscheckError, NotApplicableError, TargetError
from .fs import GLOB_HELP
from .interrupts import cleanup_shielded, sigterm_as_interrupt
from .model import CheckResult, Report, Status
from .native import options_to_argv
from .policy import Policy
from .policyfile import PolicyError, resolve_policy
from .probes.native import install_checker
from .probes.platform import runtime_platform
from .renderers.escape import visible
from .renderers.junit import classname, testcase_outcome
from .renderers.text import counts, evidence_text
from .runner import ScanContext, run_check, select_checks
from .targets import KINDS, SourceOptions, Target, open_target
from .targets.sources import FILE_SCHEMES, PULL_POLICIES, parse_source
from .waivers import WaiverLedger

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence

    # testinfra and pytest-xdist have no py.typed marker: mypy does not read them
    import testinfra.host  # type: ignore[import-untyped]
    from _pytest._code.code import TerminalRepr, TracebackStyle
    from _pytest.junitxml import LogXML
    from xdist.remote import Producer  # type: ignore[import-untyped]

    from .scheduling import TargetScheduling

TARGET_HELP = {
    "image": ("SOURCE", "an image: NAME or docker:NAME (the engine's), registry:REF, "
                        "docker-archive:FILE, oci-archive:FILE, oci-dir:DIR or dir:DIR"),
    "container": ("NAME", "a running container (probes only: nothing is created or removed)"),
    "host": ("URL", "a host through testinfra: local://, ssh://user@host, docker://NAME, "
                    "podman://NAME, kubectl://POD"),
    "rootfs": ("DIR", "a root filesystem in a directory (static checks only)"),
}
SKIP_HELP = {"dir": f"do not walk directories matching GLOB ({GLOB_HELP})",
             "file": f"leave files matching GLOB out of the walk ({GLOB_HELP})"}
NO_TARGET = ("no fipscheck target given: use --fips-image, --fips-container, --fips-host or "
             "--fips-rootfs (or the fips_image, ... ini options)")
SESSION = "fipscheck-session"
SUITE_PREFIX = "fips["


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    name: str  # what open_target gets (a rootfs directory made absolute)
    shown: str  # as the user wrote it

    @property
    def label(self) -> str:
        return self.shown if self.kind == "image" else f"{self.kind}:{self.shown}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fipscheck", "FIPS 140 compliance checks (fipscheck)")
    for kind, (metavar, what) in TARGET_HELP.items():
        group.addoption(f"--fips-{kind}", action="append", default=[], metavar=metavar,
                        help=f"check {what}; repeatable")
        parser.addini(f"fips_{kind}", type="linelist", default=[],
                      help=f"targets to check when no --fips-* target is given: {what}")
    group.addoption("--fips-pull", choices=PULL_POLICIES, default="missing",
                    help="when the engine pulls a docker: image (default: missing)")
    group.addoption("--fips-platform", metavar="OS/ARCH[/VARIANT]",
                    help="the image of this platform from a multi-arch index, e.g. linux/arm64")
    group.addoption("--fips-insecure-registry", action="store_true",
                    help="reach a registry: source on this machine over plain HTTP")
    group.addoption("--fips-config", metavar="FILE", default="",
                    help="image configuration JSON for dir: and --fips-rootfs targets")
    group.addoption("--fips-env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment of dir: and --fips-rootfs targets (repeatable)")
    group.addoption("--fips-require-tool", action="append", default=[], metavar="COMMAND",
                    help="a command the target must have on its PATH (tools.required); repeatable")
    parser.addini("fips_require_tool", type="args", default=[],
                  help="commands the targets must have on their PATH, as --fips-require-tool")
    for what, help_text in SKIP_HELP.items():
        group.addoption(f"--fips-skip-{what}", action="append", default=[], metavar="GLOB",
                        help=f"{help_text}; repeatable")
        parser.addini(f"fips_skip_{what}", type="linelist", default=[],
                      help=f"{help_text}, one per line (used when the command line gives none)")
    group.addoption("--fips-timeout", type=float, default=None, metavar="SECONDS",
                    help="limit each target's scan (opening it and every check): what has not "
                         "finished by then is an error")
    parser.addini("fips_timeout", default="", help="as --fips-timeout")
    group.addoption("--fips-all-filesystems", action="store_true", default=False,
                    help="--fips-host=local://: walk every mounted filesystem, not only the root's")
    group.addoption("--fips-policy", metavar="FILE", help="a fipscheck policy file (TOML); default: "
                    "the fips_policy ini option, else [tool.fipscheck] of the nearest pyproject.toml")
    parser.addini("fips_policy", default="", help="a fipscheck policy file (relative to the ini file)")
    group.addoption("--fips-select", action="append", default=[], metavar="ID",
                    help="run only this built-in check, by its node ID: fips[TARGET]::CHECK-ID, "
                         "or fips[TARGET] for all on a target (the target need not be given "
                         "otherwise); positional arguments of that form are taken as this option")


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """Positional ``fips[...]`` arguments become ``--fips-select`` before pytest reads them
    as paths (it would refuse them: "path cannot contain [] parametrization")."""
    positional = set(getattr(early_config.known_args_namespace, "file_or_dir", None) or ())
    for index, arg in enumerate(args):
        if arg in positional and parse_node_id(arg) is not None:
            args[index] = f"--fips-select={arg}"


def parse_node_id(text: str) -> tuple[str, str | None] | None:
    """``fips[LABEL]::CHECK`` -> (LABEL, CHECK); ``fips[LABEL]`` -> (LABEL, None); else None.
    The label is everything up to the last ``]`` before the check (a label may hold ``]``:
    a registry at ``[::1]:5000``)."""
    if not text.startswith(SUITE_PREFIX):
        return None
    if text.endswith("]"):
        return text[len(SUITE_PREFIX):-1], None
    label, separator, check = text[len(SUITE_PREFIX):].rpartition("]::")
    if not separator or not label or not check or "]" in check:
        return None
    return label, check


def spec_of_label(label: str) -> TargetSpec:
    """The target a label names (``container:NAME``, ``host:URL``, ``rootfs:DIR``, or an image
    source as written), for an ID given without its target's option."""
    kind, colon, name = label.partition(":")
    if colon and kind in ("container", "host", "rootfs") and name:
        return TargetSpec(kind, str(Path(name).absolute()) if kind == "rootfs" else name, name)
    return TargetSpec("image", _anchored("image", label, Path.cwd()), label)


class FipsWarning(UserWarning):
    """A check passed with a caveat the policy does not fail on, or a waiver is stale."""


def policy_of(config: pytest.Config, tools: list[str], skip_dirs: tuple[str, ...] = (),
              skip_files: tuple[str, ...] = ()) -> Policy:
    """--fips-policy, else the ini's fips_policy (relative to the ini file), else pyproject's
    [tool.fipscheck]; a policy that cannot be used stops the run as a usage error."""
    path = config.getoption("fips_policy")
    if not path and config.getini("fips_policy"):
        base = config.inipath.parent if config.inipath else config.rootpath
        path = str(base / config.getini("fips_policy"))
    try:
        return resolve_policy(path or None, required_tools=tuple(tools), skip_dirs=skip_dirs,
                              skip_files=skip_files, start=config.rootpath)
    except PolicyError as error:
        raise pytest.UsageError(str(error)) from None


def target_specs(config: pytest.Config) -> list[TargetSpec]:
    """Targets from the command line; if it names none, from the ini file (a repository
    pinning its images), with relative rootfs directories taken from the ini file's place."""
    given = {kind: config.getoption(f"fips_{kind}") for kind in KINDS}
    base = Path.cwd()
    if not any(given.values()):
        given = {kind: config.getini(f"fips_{kind}") for kind in KINDS}
        base = config.inipath.parent if config.inipath else config.rootpath
    specs = [TargetSpec(kind, _anchored(kind, name, base), name)
             for kind, names in given.items() for name in names]
    labels = {spec.label for spec in specs}
    for label, _ in selections(config):
        if label not in labels:  # an ID re-run on its own: its target comes from the ID
            specs.append(spec_of_label(label))
            labels.add(label)
    return list(dict.fromkeys(specs))


def selections(config: pytest.Config) -> list[tuple[str, str | None]]:
    """(label, check ID or None for all) of each ``--fips-select``; a malformed one is a usage
    error."""
    chosen = []
    for text in config.getoption("fips_select", None) or []:
        parsed = parse_node_id(text)
        if parsed is None:
            raise pytest.UsageError(f"--fips-select {text}: not a fipscheck node ID "
                                    "(fips[TARGET]::CHECK-ID or fips[TARGET])")
        if parsed[1] is not None:
            try:
                select_checks([parsed[1]])
            except ValueError as error:
                raise pytest.UsageError(f"--fips-select {text}: {error}") from None
        chosen.append(parsed)
    return chosen


def _anchored(kind: str, name: str, base: Path) -> str:
    """A relative directory or archive made absolute from ``base`` (where it was written)."""
    if kind == "rootfs":
        return str(base / name)
    if kind == "image":
        try:
            source = parse_source(name)
        except ValueError:
            return name  # opening it says what is wrong, as an error of its checks
        if source.scheme in FILE_SCHEMES:
            return f"{source.scheme}:{base / source.reference}"
    return name


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fips: a built-in fipscheck check")
    config.addinivalue_line("markers", "fips_runtime: a built-in fipscheck check that runs "
                                       "something inside the target")
    def option(name: str) -> list[str]:  # the command line's, else the ini file's
        return cast("list[str]", config.getoption(name) or config.getini(name))

    specs = target_specs(config)
    policy = policy_of(config, option("fips_require_tool"), tuple(option("fips_skip_dir")),
                       tuple(option("fips_skip_file"))) if specs else Policy()
    timeout = config.getoption("fips_timeout") or float(config.getini("fips_timeout") or 0) or None
    try:
        options = SourceOptions.from_arguments(
            config.getoption("fips_pull"), config.getoption("fips_platform"),
            config.getoption("fips_insecure_registry"), config.getoption("fips_config"),
            config.getoption("fips_env"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    session = FipsSession(specs, policy, options, timeout,
                          all_filesystems=config.getoption("fips_all_filesystems"))
    config.pluginmanager.register(session, SESSION)
    session.config = config
    config.pluginmanager.register(JunitShaper(config), f"{SESSION}-junit")
    config.pluginmanager.register(CheckMessages(config), f"{SESSION}-messages")
    if session.specs:
        sigterm_as_interrupt()
        workerinput = getattr(config, "workerinput", None)  # set in a pytest-xdist worker
        if workerinput:
            from .scheduling import share_cores

            share_cores(os.environ, int(workerinput["workercount"]))


class FipsSession:
    """Targets, their scan contexts and check results of one pytest process."""

    def __init__(self, specs: list[TargetSpec], policy: Policy, options: SourceOptions | None = None,
                 timeout: float | None = None, all_filesystems: bool = False) -> None:
        self.specs = specs
        self.policy = policy
        self.options = options or SourceOptions()
        self.timeout = timeout  # per target: opening it and all its checks
        self.all_filesystems = all_filesystems
        self.config: pytest.Config | None = None
        self._targets: dict[TargetSpec, Target] = {}
        self._contexts: dict[TargetSpec, ScanContext] = {}
        self._open_errors: dict[TargetSpec, FipscheckError] = {}
        self._open_errors_reported: set[TargetSpec] = set()  # the one error already shown
        self._results: dict[TargetSpec, dict[str, CheckResult]] = {}
        self._ledgers = {spec: WaiverLedger(policy.waivers, spec.name) for spec in specs}
        self.verdicts: dict[str, list[CheckResult]] = {}  # per target label, from test reports
        self.cleanup_error = ""
        self.waivers_matched: dict[str, Counter[int]] = {}  # per label: waiver index -> findings
        self.waivers_expired: dict[str, set[int]] = {}  # per label: expired waivers that matched

    def target(self, spec: TargetSpec) -> Target:
        return self.context(spec).target

    def context(self, spec: TargetSpec) -> ScanContext:
        if spec in self._open_errors:
            raise self._open_errors[spec]
        if spec not in self._contexts:
            deadline = Deadline(self.timeout)
            options = {"all_filesystems": True} if self.all_filesystems and spec.kind == "host" else {}
            try:
                with deadline.armed():
                    self._targets[spec] = open_target(spec.kind, spec.name, self.options, **options)
            except ValueError as error:  # a source string that makes no sense
                self._open_errors[spec] = TargetError(str(error))
                raise self._open_errors[spec] from None
            except FipscheckError as error:
                self._open_errors[spec] = error
                raise
            except ScanTimeout as error:
                self._open_errors[spec] = TargetError(f"{error} while opening {spec.label}")
                raise self._open_errors[spec] from None
            self._contexts[spec] = ScanContext(self._targets[spec], self.policy, deadline)
        return self._contexts[spec]

    def result(self, spec: TargetSpec, check: Check) -> CheckResult:
        """The check's result on the target, computed once; a target that cannot be opened
        makes every check on it an error (reported once: pytest_runtest_protocol)."""
        done = self._results.setdefault(spec, {})
        if check.id not in done:
            try:
                result = run_check(self.context(spec), check)
            except FipscheckError as error:
                message = str(error)
                if spec in self._open_errors:
                    message = f"cannot open {spec.label}, so none of its checks ran: {message}"
                result = CheckResult(check.id, Status.ERROR, message, {"target": spec.label})
            done[check.id] = self._ledgers[spec].apply(result)
        return done[check.id]

    def waiver_indexes(self, spec: TargetSpec, result: CheckResult) -> dict[str, list[int]]:
        """Which of the policy's waivers covered the result's findings, and which expired ones."""
        ledger = self._ledgers[spec]
        given = [w.to_dict() for w in self.policy.waivers]
        applied = [given.index(f.waiver) for f in result.findings if f.waiver in given]
        expired = sorted(i for i in ledger.expired_hits if self.policy.waivers[i].check == result.id)
        return {"applied": applied, "expired": expired}

    def report(self, spec: TargetSpec) -> Report:
        results = tuple(self.result(spec, check) for check in select_checks())
        try:
            target = self.target(spec).describe()
        except FipscheckError as error:
            target = {"kind": spec.kind, "name": spec.name, "error": str(error)}
        ledger = self._ledgers[spec]
        return Report(target, results, policy=self.policy.to_dict(), waivers=tuple(ledger.states()),
                      warnings=tuple(ledger.warnings()))

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection sees the items
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        builtin: list[pytest.Item] = []
        for spec in self.specs:
            suite = FipsSuite.from_parent(session, name=f"fips[{spec.label}]",
                                          nodeid=f"fips[{spec.label}]", spec=spec, fips=self)
            # Collected through the hooks, so the terminal counts them as collected items.
            report = suite.ihook.pytest_make_collect_report(collector=suite)
            suite.ihook.pytest_collectreport(report=report)
            builtin += report.result
        items[:0] = builtin
        chosen = selections(session.config)
        if chosen:
            self._select(session.config, items, chosen)

    @staticmethod
    def _select(config: pytest.Config, items: list[pytest.Item],
                chosen: list[tuple[str, str | None]]) -> None:
        """Keep the selected checks, and the user's tests only when paths were given too (an ID
        re-run alone runs that item alone)."""
        keep_others = config.args_source == pytest.Config.ArgsSource.ARGS

        def kept(item: pytest.Item) -> bool:
            if not isinstance(item, FipsCheckItem):
                return keep_others
            return any(item.spec.label == label and check in (None, item.check.id)
                       for label, check in chosen)

        dropped = [item for item in items if not kept(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if kept(item)]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Users' tests that use a fips_* fixture run once per target, as the checks do."""
        if "fips_target_spec" in metafunc.fixturenames:
            specs: Sequence[TargetSpec | None] = self.specs or [None]
            metafunc.parametrize("fips_target_spec", specs, indirect=True,
                                 ids=[s.label if s else "no-target" for s in specs])

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only with -n
    def pytest_xdist_make_scheduler(self, config: pytest.Config,
                                    log: Producer) -> TargetScheduling | None:
        """Under ``--dist load`` (xdist's default): a target's checks and the user's tests on
        it go to one worker, so each target is opened (an image created and exported) once;
        the largest images first."""
        if not self.specs or config.getvalue("dist") != "load":
            return None
        from .scheduling import TargetScheduling, image_weight

        weights = {spec.label: image_weight(spec.name) for spec in self.specs if spec.kind == "image"}
        return TargetScheduling(config, log, [spec.label for spec in self.specs], weights)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        """A target that cannot be opened is one error, on the first of its checks to run (its
        message names the target and why); the others on it run silently, unreported (set-up
        and teardown still happen as pytest does them, with nothing to do)."""
        if not isinstance(item, FipsCheckItem) or item.spec not in self._open_errors_reported:
            return None
        runtestprotocol(item, log=False, nextitem=nextitem)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
            self, item: pytest.Item, call: pytest.CallInfo[None],
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A skipped check is reported under its node ID (``-rs`` would otherwise name the
        line of this plugin that raised the skip)."""
        report = yield
        if isinstance(item, FipsCheckItem) and report.skipped and call.excinfo is not None:
            # no line number: pytest's annotation says int, its skip summary takes None too
            report.longrepr = (item.nodeid, None, str(call.excinfo.value))  # type: ignore[assignment]
        if isinstance(item, FipsCheckItem) and call.when == "setup" and item.spec in self._open_errors:
            self._open_errors_reported.add(item.spec)
        if isinstance(item, FipsCheckItem) and report.passed and call.when == "call":
            # -rA's summary shows a report's message after its ID: each check's, as for failures
            report.longrepr = visible(item.fips.result(item.spec, item.check).message)
        return report

    @pytest.hookimpl(tryfirst=True)  # before pytest's junitxml writes the properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collects verdicts and waiver matches from the reports, so that under xdist the
        controller, which runs no check itself, can summarise the workers' results."""
        props: dict[str, Any] = dict(report.user_properties)  # this plugin's (fips_*) are str
        if "fips_status" in props and (report.when == "call" or (report.when == "setup" and report.failed)):
            check = _checks_by_id().get(props["fips_check"])
            self.verdicts.setdefault(props["fips_target"], []).append(CheckResult(
                props["fips_check"], Status(props["fips_status"]), props.get("fips_message", ""),
                affirmative=check.affirmative if check is not None else True))
            label, waivers = props["fips_target"], json.loads(props.get("fips_waivers", "{}"))
            self.waivers_matched.setdefault(label, Counter()).update(waivers.get("applied", []))
            self.waivers_expired.setdefault(label, set()).update(waivers.get("expired", []))
        xml = _junit_xml(self.config)
        ours = "fips_status" in props
        if ours and report.when == "teardown" and xml is not None and xml.family == "xunit2":
            report.user_properties = []  # testcase properties are not valid in xunit2

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Close every target, to the end even through Ctrl-C; a close that fails (the engine
        went away) is reported in the summary, not as pytest's internal error. A target on
        which every built-in check ran and nothing was verified fails the session, though no
        item failed (its checks skipped, or passed only on absence)."""
        try:
            with cleanup_shielded(), ExitStack() as closing:  # every target, even if one fails
                for target in self._targets.values():
                    closing.callback(target.close)
                self._targets.clear()
                self._contexts.clear()
        except FipscheckError as error:
            self.cleanup_error = f"{error} (what is left is removed by the next run or " \
                                 "`fipscheck cleanup`)"
        if session.exitstatus == pytest.ExitCode.OK and any(
                len(results) == len(_checks_by_id()) and Report({}, tuple(results)).nothing_verified
                for results in self.verdicts.values()):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.cleanup_error:
            terminalreporter.section("fipscheck cleanup", red=True)
            terminalreporter.line(f"fipscheck: error: {self.cleanup_error}", red=True)
        if not self.verdicts:
            return
        terminalreporter.section("fipscheck verdicts")
        specs = {spec.label: spec for spec in self.specs}
        for label, results in self.verdicts.items():
            summary = Report({}, tuple(results))
            terminalreporter.line(f"{label}: {summary.verdict.value.upper()} ({counts(summary)})")
            if summary.nothing_verified:
                terminalreporter.line(f"  {summary.nothing_verified}")
            if label in specs:
                ledger = WaiverLedger(self.policy.waivers, specs[label].name,
                                      expired_hits=self.waivers_expired.get(label, set()),
                                      checks_run={r.id for r in results})
                for warning in ledger.warnings(self.waivers_matched.get(label, Counter())):
                    terminalreporter.line(f"  warning: {warning}", yellow=True)


@functools.cache
def _checks_by_id() -> dict[str, Check]:
    return {c.id: c for c in select_checks()}


class JunitShaper:
    """JUnit as fipscheck users expect it (renderers/junit.py says how), made by reshaping the
    testcase pytest's junitxml plugin has just made for a check item."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after junitxml has made the testcase element
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)  # this plugin's (fips_*) are str
        xml = _junit_xml(self.config)
        if xml is None or "fips_status" not in props or report.when == "teardown":
            return
        if report.when == "setup" and not report.failed:
            return
        reporter = xml.node_reporter(report)
        reporter.add_attribute("classname", classname(props["fips_target"]))
        result = CheckResult(props["fips_check"], Status(props["fips_status"]),
                             props.get("fips_message", ""), json.loads(props.get("fips_evidence", "{}")))
        outcome = testcase_outcome(result)
        if reporter.nodes and outcome.tag is not None:
            node = reporter.nodes[-1]
            node.set("message", outcome.message)
            node.text = outcome.body or None


class CheckMessages:
    """``-v``: each check's message on a line of its own under its result (pytest shows only a
    skip's reason on that line)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after the terminal reporter wrote the result line
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)  # this plugin's (fips_*) are str
        if "fips_message" not in props or self.config.getoption("verbose") <= 0:
            return
        if report.when == "call" or (report.when == "setup" and report.failed):
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write(f"\n    {visible(props['fips_message'])}")


class FipsSuite(pytest.Collector):
    """The built-in checks on one target (not found in any file: FipsSession makes it)."""

    def __init__(self, *, spec: TargetSpec, fips: FipsSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec, self.fips = spec, fips

    def collect(self) -> list[pytest.Item]:
        return [FipsCheckItem.from_parent(self, name=check.id, check=check, spec=self.spec,
                                          fips=self.fips) for check in select_checks()]


class FipsCheckFailed(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class FipsCheckItem(pytest.Item):
    def __init__(self, *, check: Check, spec: TargetSpec, fips: FipsSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.spec, self.fips = check, spec, fips
        self.add_marker("fips")
        if check.needs_runtime:
            self.add_marker("fips_runtime")
        self.user_properties.append(("fips_check", check.id))
        self.user_properties.append(("fips_target", spec.label))

    def setup(self) -> None:
        """The check runs here: a check that could not gather its evidence is an error of the
        item (JUnit ``<error>``, pytest's E), not a failure of it."""
        result = self.fips.result(self.spec, self.check)
        self.user_properties.append(("fips_status", result.status.value))
        self.user_properties.append(("fips_message", result.message))
        self.user_properties.append(("fips_evidence", json.dumps(result.evidence, default=str)))
        self.user_properties.append(("fips_waivers", json.dumps(self.fips.waiver_indexes(self.spec, result))))
        if result.status is Status.ERROR:
            pytest.fail(evidence_text(result), pytrace=False)

    def runtest(self) -> None:
        result = self.fips.result(self.spec, self.check)
        if result.status is Status.SKIP:
            pytest.skip(result.message)
        if result.status is Status.WAIVED:
            pytest.xfail(result.message)
        if result.status is Status.WARN:
            warnings.warn(FipsWarning(f"{self.check.id}: {result.message}"), stacklevel=1)
        if result.status is Status.FAIL:
            raise FipsCheckFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, FipsCheckFailed):
            return evidence_text(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, None, f"{self.spec.label}::{self.check.id}"


def _junit_xml(config: pytest.Config | None) -> LogXML | None:
    """pytest's junitxml writer when --junitxml is on (its stash key is what pytest's own
    record_xml_attribute uses), else None."""
    from _pytest.junitxml import xml_key

    return config.stash.get(xml_key, None) if config is not None else None


def _session(request: pytest.FixtureRequest) -> FipsSession:
    return cast("FipsSession", request.config.pluginmanager.get_plugin(SESSION))  # pytest_configure's


@pytest.fixture
def fips_target_spec(request: pytest.FixtureRequest) -> TargetSpec:
    """Which target a test runs on (parametrized by the plugin over every given target)."""
    spec: TargetSpec | None = getattr(request, "param", None)
    if spec is None:
        pytest.skip(NO_TARGET)
    return spec


@pytest.fixture
def fips_target(request: pytest.FixtureRequest, fips_target_spec: TargetSpec) -> Target:
    """The target under test (fipscheck.targets.Target): ``filesystem``, ``config``, ``exec``.
    It is shared with the built-in checks and closed by the plugin, not by the test."""
    try:
        return _session(request).target(fips_target_spec)
    except FipscheckError as error:  # an unusable target fails the test, never skips it
        pytest.fail(f"cannot open {fips_target_spec.label}: {error}", pytrace=False)


@pytest.fixture
def fips_host(fips_target: Target) -> testinfra.host.Host:
    """A testinfra Host on the target: ``.file()``, ``.package()``, ``.run()`` run inside the
    image's container, in the running container, or on the host (skipped for a rootfs)."""
    try:
        return fips_target.testinfra_host()
    except NotApplicableError as reason:
        pytest.skip(str(reason))


@pytest.fixture
def fips_report(request: pytest.FixtureRequest, fips_target_spec: TargetSpec) -> Report:
    """The full fipscheck Report on the target (every built-in check, evidence included),
    computed once per target and shared with the built-in items."""
    return _session(request).report(fips_target_spec)


@dataclass(frozen=True)
class NativeRun:
    """One run of fips-startup-check inside the target."""

    argv: tuple[str, ...]
    exit_code: int  # 0 compliant, 1 not compliant, 2 could not check
    report: dict[str, Any] | None  # its JSON report (None with --text or a preflight's exec'd command)
    stdout: str
    stderr: str


def _native_checker_in(ctx: ScanContext) -> str:
    """Where the checker built for the target's machine is on the target: copied into an
    image's or a container's filesystem or a remote host's temporary directory (removed at
    the end), this package's own copy on the local host; skipped where nothing can run."""
    target = ctx.target
    if not target.can_run:
        pytest.skip(f"the native checker cannot run inside the target: {target.cannot_run_reason}")
    try:
        ctx.evidence(runtime_platform).require_runnable()
        return install_checker(ctx)[0]
    except NotApplicableError as reason:  # e.g. an arm64 image in an x86-64 engine
        pytest.skip(str(reason))
    except FipscheckError as error:  # no checker for that machine, a failed copy
        pytest.fail(f"cannot put the native checker on {target.name}: {error}", pytrace=False)


@pytest.fixture
def fips_native(request: pytest.FixtureRequest, fips_target: Target,
                fips_target_spec: TargetSpec) -> Callable[..., NativeRun]:
    """Run the native checker (native/fips-startup-check.c) inside the target with options of
    your own: keywords as ``fipscheck.native.report()`` takes them (``require_provider="fips"``,
    ``libcrypto="/opt/lib/libcrypto.so.3"``, ...), or raw arguments (``"--text"``, or
    ``"--", "/app/cni-agent", "--version"`` for the preflight). Returns a NativeRun."""
    checker = _native_checker_in(_session(request).context(fips_target_spec))

    def run(*args: str, **options: Any) -> NativeRun:
        argv = [checker, *options_to_argv(**options), *args]
        done = fips_target.exec(argv)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = None
        return NativeRun(tuple(argv), done.exit_code, report, done.text,
                         done.stderr.decode("utf-8", errors="replace"))
    return run
