"""pytest plugin: ``pytest --fips-image=IMAGE`` collects one test item per built-in check per
target, from any directory. Each target is opened once per process (per xdist worker), when
its first item runs, and closed at the end of the session whatever happened."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from .checks import Check
from .errors import FipscheckError
from .model import CheckResult, Report, Status
from .render import evidence_text
from .runner import ScanContext, run_check, select_checks
from .targets import Target, open_target


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    name: str

    @property
    def label(self) -> str:
        return self.name if self.kind == "image" else f"{self.kind}:{self.name}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fipscheck", "FIPS 140 compliance checks (fipscheck)")
    group.addoption("--fips-image", action="append", default=[], metavar="IMAGE",
                    help="check this container image (repeatable)")
    parser.addini("fips_image", type="linelist", default=[],
                  help="container images to check, as --fips-image")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fips: a built-in fipscheck check")
    images = config.getoption("fips_image") or config.getini("fips_image")
    specs = [TargetSpec("image", name) for name in dict.fromkeys(images)]
    if specs:
        config.pluginmanager.register(FipsSession(specs), "fipscheck-session")


class FipsCheckFailed(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class FipsSession:
    def __init__(self, specs: list[TargetSpec]) -> None:
        self.specs = specs
        self._targets: dict[TargetSpec, Target] = {}
        self._contexts: dict[TargetSpec, ScanContext] = {}
        self._open_errors: dict[TargetSpec, FipscheckError] = {}
        self.results: dict[TargetSpec, list[CheckResult]] = {spec: [] for spec in specs}

    def context(self, spec: TargetSpec) -> ScanContext:
        if spec in self._open_errors:
            raise self._open_errors[spec]
        if spec not in self._contexts:
            try:
                self._targets[spec] = open_target(spec.kind, spec.name)
            except FipscheckError as error:
                self._open_errors[spec] = error
                raise
            self._contexts[spec] = ScanContext(self._targets[spec])
        return self._contexts[spec]

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection sees the items
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        builtin: list[pytest.Item] = []
        for spec in self.specs:
            suite = FipsSuite.from_parent(session, name=f"fips[{spec.label}]",
                                          nodeid=f"fips[{spec.label}]")
            builtin += [FipsCheckItem.from_parent(suite, name=check.id, check=check, spec=spec,
                                                  fips=self) for check in select_checks()]
        items[:0] = builtin

    def pytest_sessionfinish(self) -> None:
        for target in self._targets.values():
            target.close()
        self._targets.clear()

    def pytest_terminal_summary(self, terminalreporter) -> None:
        ran = {spec: results for spec, results in self.results.items() if results}
        if not ran:
            return
        terminalreporter.section("fipscheck verdicts")
        for spec, results in ran.items():
            report = Report({"kind": spec.kind, "name": spec.name}, tuple(results))
            counts = ", ".join(f"{sum(r.status is s for r in results)} {s.value}" for s in Status)
            terminalreporter.line(f"{spec.label}: {report.verdict.value.upper()} ({counts})")


class FipsSuite(pytest.Collector):
    def collect(self):  # items are made by FipsSession; nothing to collect from files
        return []


class FipsCheckItem(pytest.Item):
    def __init__(self, *, check: Check, spec: TargetSpec, fips: FipsSession, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check, self.spec, self.fips = check, spec, fips
        self.add_marker("fips")
        self.user_properties.append(("fips_check", check.id))
        self.user_properties.append(("fips_target", spec.label))

    def runtest(self) -> None:
        result = run_check(self.fips.context(self.spec), self.check)
        self.fips.results[self.spec].append(result)
        self.user_properties.append(("fips_status", result.status.value))
        self.user_properties.append(("fips_evidence", json.dumps(result.evidence, default=str)))
        if result.status is Status.SKIP:
            pytest.skip(result.message)
        if result.status is not Status.PASS:
            raise FipsCheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, FipsCheckFailed):
            return evidence_text(excinfo.value.result)
        if isinstance(excinfo.value, FipscheckError):
            return f"{self.check.id}: ERROR: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.spec.label}::{self.check.id}"
