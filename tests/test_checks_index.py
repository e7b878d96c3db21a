"""The index of check modules (checks.INDEX) that lets a selection of checks import only
their modules: every check of every module of the package is listed, under its module."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

from fipscheck import checks


def test_every_check_module_is_indexed():
    defined = {}
    for module in pkgutil.iter_modules(checks.__path__):
        loaded = importlib.import_module(f"{checks.__name__}.{module.name}")
        defined.update({c.id: module.name for c in checks.all_checks()
                        if c.run.__module__ == loaded.__name__})
    assert defined == checks.INDEX, (
        "add each check ID of a new module of fipscheck/checks to checks.INDEX")


def test_a_selection_imports_only_its_modules():
    code = ("import sys, fipscheck.runner as r; r.select_checks(['python.ssl']); "
            "print(sorted(m for m in sys.modules if m.startswith('fipscheck.checks.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['fipscheck.checks.python']"
