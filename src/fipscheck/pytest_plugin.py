"""pytest plugin: ``pytest --fips-image=IMAGE`` (or ``--fips-container``, ``--fips-host``,
``--fips-rootfs``, or the ini options of the same names) collects one test item per built-in
check per target, from any directory, and offers fixtures for users' own tests on the same
targets: ``fips_target``, ``fips_host``, ``fips_report``, ``fips_native``.

Each target is opened once per process (per xdist worker), when its first item or fixture
needs it, and closed at the end of the session whatever happened (failure, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from .checks import Check
from .errors import FipscheckError, NotApplicableError
from .interrupts import sigterm_as_interrupt
from .model import CheckResult, Report, Status
from .native import executable_path, options_to_argv
from .policy import Policy
from .policyfile import PolicyError, resolve_policy
from .renderers.junit import classname, testcase_outcome
from .renderers.text import counts, evidence_text
from .runner import ScanContext, run_check, select_checks
from .targets import KINDS, HostTarget, Target, open_target
from .waivers import WaiverLedger

TARGET_HELP = {
    "image": ("IMAGE", "a container image (checked in a container of fipscheck's, removed after)"),
    "container": ("NAME", "a running container (probes only: nothing is created or removed)"),
    "host": ("URL", "a host through testinfra: local://, ssh://user@host, docker://NAME, "
                    "podman://NAME, kubectl://POD"),
    "rootfs": ("DIR", "a root filesystem in a directory (static checks only)"),
}
NO_TARGET = ("no fipscheck target given: use --fips-image, --fips-container, --fips-host or "
             "--fips-rootfs (or the fips_image, ... ini options)")
SESSION = "fipscheck-session"


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
    group.addoption("--fips-require-tool", action="append", default=[], metavar="COMMAND",
                    help="a command the target must have on its PATH (tools.required); repeatable")
    parser.addini("fips_require_tool", type="args", default=[],
                  help="commands the targets must have on their PATH, as --fips-require-tool")
    group.addoption("--fips-policy", metavar="FILE", help="a fipscheck policy file (TOML); default: "
                    "the fips_policy ini option, else [tool.fipscheck] of the nearest pyproject.toml")
    parser.addini("fips_policy", default="", help="a fipscheck policy file (relative to the ini file)")


class FipsWarning(UserWarning):
    """A check passed with a caveat the policy does not fail on, or a waiver is stale."""


def policy_of(config: pytest.Config, tools: list[str]) -> Policy:
    """--fips-policy, else the ini's fips_policy (relative to the ini file), else pyproject's
    [tool.fipscheck]; a policy that cannot be used stops the run as a usage error."""
    path = config.getoption("fips_policy")
    if not path and config.getini("fips_policy"):
        base = config.inipath.parent if config.inipath else config.rootpath
        path = str(base / config.getini("fips_policy"))
    try:
        return resolve_policy(path or None, required_tools=tuple(tools), start=config.rootpath)
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
    specs = [TargetSpec(kind, str(base / name) if kind == "rootfs" else name, name)
             for kind, names in given.items() for name in names]
    return list(dict.fromkeys(specs))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fips: a built-in fipscheck check")
    config.addinivalue_line("markers", "fips_runtime: a built-in fipscheck check that runs "
                                       "something inside the target")
    tools = config.getoption("fips_require_tool") or config.getini("fips_require_tool")
    specs = target_specs(config)
    session = FipsSession(specs, policy_of(config, tools) if specs else Policy())
    config.pluginmanager.register(session, SESSION)
    session.config = config
    config.pluginmanager.register(JunitShaper(config), f"{SESSION}-junit")
    if session.specs:
        sigterm_as_interrupt()


class FipsSession:
    """Targets, their scan contexts and check results of one pytest process."""

    def __init__(self, specs: list[TargetSpec], policy: Policy) -> None:
        self.specs = specs
        self.policy = policy
        self.config: pytest.Config | None = None
        self._targets: dict[TargetSpec, Target] = {}
        self._contexts: dict[TargetSpec, ScanContext] = {}
        self._open_errors: dict[TargetSpec, FipscheckError] = {}
        self._results: dict[TargetSpec, dict[str, CheckResult]] = {}
        self._ledgers = {spec: WaiverLedger(policy.waivers, spec.name) for spec in specs}
        self.verdicts: dict[str, list[CheckResult]] = {}  # per target label, from test reports
        self.waivers_matched: dict[str, Counter[int]] = {}  # per label: waiver index -> findings
        self.waivers_expired: dict[str, set[int]] = {}  # per label: expired waivers that matched

    def target(self, spec: TargetSpec) -> Target:
        return self.context(spec).target

    def context(self, spec: TargetSpec) -> ScanContext:
        if spec in self._open_errors:
            raise self._open_errors[spec]
        if spec not in self._contexts:
            try:
                self._targets[spec] = open_target(spec.kind, spec.name)
            except FipscheckError as error:
                self._open_errors[spec] = error
                raise
            self._contexts[spec] = ScanContext(self._targets[spec], self.policy)
        return self._contexts[spec]

    def result(self, spec: TargetSpec, check: Check) -> CheckResult:
        """The check's result on the target, computed once; a target that cannot be opened
        makes every check on it an error."""
        done = self._results.setdefault(spec, {})
        if check.id not in done:
            try:
                result = run_check(self.context(spec), check)
            except FipscheckError as error:
                result = CheckResult(check.id, Status.ERROR, str(error), {"target": spec.label})
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

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Users' tests that use a fips_* fixture run once per target, as the checks do."""
        if "fips_target_spec" in metafunc.fixturenames:
            specs = self.specs or [None]
            metafunc.parametrize("fips_target_spec", specs, indirect=True,
                                 ids=[s.label if s else "no-target" for s in specs])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """A skipped check is reported under its node ID (``-rs`` would otherwise name the
        line of this plugin that raised the skip)."""
        report = yield
        if isinstance(item, FipsCheckItem) and report.skipped and call.excinfo is not None:
            report.longrepr = (item.nodeid, None, str(call.excinfo.value))
        return report

    @pytest.hookimpl(tryfirst=True)  # before pytest's junitxml writes the properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collects verdicts and waiver matches from the reports, so that under xdist the
        controller, which runs no check itself, can summarise the workers' results."""
        props = dict(report.user_properties)
        if "fips_status" in props and (report.when == "call" or (report.when == "setup" and report.failed)):
            self.verdicts.setdefault(props["fips_target"], []).append(
                CheckResult(props["fips_check"], Status(props["fips_status"]), ""))
            label, waivers = props["fips_target"], json.loads(props.get("fips_waivers", "{}"))
            self.waivers_matched.setdefault(label, Counter()).update(waivers.get("applied", []))
            self.waivers_expired.setdefault(label, set()).update(waivers.get("expired", []))
        xml = _junit_xml(self.config)
        ours = "fips_status" in props
        if ours and report.when == "teardown" and xml is not None and xml.family == "xunit2":
            report.user_properties = []  # testcase properties are not valid in xunit2

    def pytest_sessionfinish(self) -> None:
        with ExitStack() as closing:  # every target is closed even if one close fails
            for target in self._targets.values():
                closing.callback(target.close)
            self._targets.clear()
            self._contexts.clear()

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.verdicts:
            return
        terminalreporter.section("fipscheck verdicts")
        specs = {spec.label: spec for spec in self.specs}
        for label, results in self.verdicts.items():
            summary = Report({}, tuple(results))
            terminalreporter.line(f"{label}: {summary.verdict.value.upper()} ({counts(summary)})")
            if label in specs:
                ledger = WaiverLedger(self.policy.waivers, specs[label].name,
                                      expired_hits=self.waivers_expired.get(label, set()),
                                      checks_run={r.id for r in results})
                for warning in ledger.warnings(self.waivers_matched.get(label, Counter())):
                    terminalreporter.line(f"  warning: {warning}", yellow=True)


class JunitShaper:
    """JUnit as fipscheck users expect it (renderers/junit.py says how), made by reshaping the
    testcase pytest's junitxml plugin has just made for a check item."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after junitxml has made the testcase element
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
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


class FipsSuite(pytest.Collector):
    """The built-in checks on one target (not found in any file: FipsSession makes it)."""

    def __init__(self, *, spec: TargetSpec, fips: FipsSession, **kwargs) -> None:
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
    def __init__(self, *, check: Check, spec: TargetSpec, fips: FipsSession, **kwargs) -> None:
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

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, FipsCheckFailed):
            return evidence_text(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.spec.label}::{self.check.id}"


def _junit_xml(config: pytest.Config | None):
    """pytest's junitxml writer when --junitxml is on (its stash key is what pytest's own
    record_xml_attribute uses), else None."""
    from _pytest.junitxml import xml_key

    return config.stash.get(xml_key, None) if config is not None else None


def _session(request: pytest.FixtureRequest) -> FipsSession:
    return request.config.pluginmanager.get_plugin(SESSION)


@pytest.fixture
def fips_target_spec(request: pytest.FixtureRequest) -> TargetSpec:
    """Which target a test runs on (parametrized by the plugin over every given target)."""
    spec = getattr(request, "param", None)
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
def fips_host(fips_target: Target):
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
    report: dict | None  # its JSON report (None with --text or a preflight's exec'd command)
    stdout: str
    stderr: str


def _native_checker_in(target: Target) -> str:
    """Where the checker is on the target: copied into an image's or a container's
    filesystem; this package's own copy on the local host; otherwise the test is skipped."""
    if isinstance(target, HostTarget):
        if target.backend == "local":
            return str(executable_path())
        pytest.skip(f"the native checker is not copied to {target.name}: install it there "
                    "(`fipscheck native-path` shows the file) and run it with fips_host.run")
    if not target.can_run:
        pytest.skip(f"a {target.kind} target cannot run the native checker")
    checker = "/.fipscheck/fips-startup-check"
    target.put_file(checker, executable_path().read_bytes())
    return checker


@pytest.fixture
def fips_native(fips_target: Target):
    """Run the native checker (native/fips-startup-check.c) inside the target with options of
    your own: keywords as ``fipscheck.native.report()`` takes them (``require_provider="fips"``,
    ``libcrypto="/opt/lib/libcrypto.so.3"``, ...), or raw arguments (``"--text"``, or
    ``"--", "/app/cni-agent", "--version"`` for the preflight). Returns a NativeRun."""
    checker = _native_checker_in(fips_target)

    def run(*args: str, **options) -> NativeRun:
        argv = [checker, *options_to_argv(**options), *args]
        done = fips_target.exec(argv)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = None
        return NativeRun(tuple(argv), done.exit_code, report, done.text,
                         done.stderr.decode("utf-8", errors="replace"))
    return run
