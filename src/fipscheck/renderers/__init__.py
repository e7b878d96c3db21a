"""One renderer per output format, chosen by name: ``render(report, "sarif")``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..model import Report
from .escape import json_text
from .text import evidence_text, to_text

FORMATS = ("text", "json", "junit", "sarif", "cyclonedx", "markdown")


def to_json(report: Report) -> str:
    """The JSON report (schema: fipscheck/schemas/report.schema.json)."""
    return json_text(report.to_dict())


# Imported when first used: SARIF, for one, loads the check table.
LAZY = {"junit": "to_junit", "sarif": "to_sarif", "cyclonedx": "to_cyclonedx", "markdown": "to_markdown"}


def renderer(name: str) -> Callable[[Report], str]:
    """The renderer of a format: a function from a Report to the text of the report."""
    if name == "text":
        return to_text
    if name == "json":
        return to_json
    if name in LAZY:
        function: Callable[[Report], str] = getattr(importlib.import_module(f".{name}", __name__),
                                                    LAZY[name])
        return function
    raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}")


def render(report: Report, name: str, *, verbose: bool = False) -> str:
    if name == "text":
        return to_text(report, verbose=verbose)
    return renderer(name)(report)


__all__ = ["FORMATS", "evidence_text", "render", "renderer", "to_json", "to_text"]
