"""One renderer per output format, chosen by name: ``render(report, "sarif")``."""

from __future__ import annotations

from collections.abc import Callable

from ..model import Report
from .escape import json_text
from .text import evidence_text, to_text

FORMATS = ("text", "json", "junit", "sarif", "cyclonedx", "markdown")


def to_json(report: Report) -> str:
    """The JSON report (schema: fipscheck/schemas/report.schema.json)."""
    return json_text(report.to_dict())


def renderer(name: str) -> Callable[[Report], str]:
    """The renderer of a format (imported when first used: SARIF loads the check table)."""
    if name == "text":
        return to_text
    if name == "json":
        return to_json
    if name == "junit":
        from .junit import to_junit
        return to_junit
    if name == "sarif":
        from .sarif import to_sarif
        return to_sarif
    if name == "cyclonedx":
        from .cyclonedx import to_cyclonedx
        return to_cyclonedx
    if name == "markdown":
        from .markdown import to_markdown
        return to_markdown
    raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}")


def render(report: Report, name: str, *, verbose: bool = False) -> str:
    if name == "text":
        return to_text(report, verbose=verbose)
    return renderer(name)(report)


__all__ = ["FORMATS", "evidence_text", "render", "renderer", "to_json", "to_text"]
