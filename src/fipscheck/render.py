"""Kept for code that imports ``fipscheck.render``: the renderers live in ``renderers/``."""

from __future__ import annotations

from .renderers import evidence_text, to_json, to_text
from .renderers.text import result_line, target_line

__all__ = ["evidence_text", "result_line", "target_line", "to_json", "to_text"]
