"""Strings from the target (paths, versions, provider names, config values) made safe for
each output. One encoding for undecodable bytes everywhere: a file name that is not UTF-8
reaches fipscheck with each bad byte as a lone surrogate (``os.fsdecode``); every report shows
such a byte as the four characters ``\\xNN`` (as Python's ``backslashreplace`` does), so JSON
stays strict UTF-8 and text cannot be broken by it."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

# Line and paragraph separators: some terminals and viewers break lines on them.
_VISIBLE_SEPARATORS = {"\u2028", "\u2029"}


def _escaped_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # any other lone surrogate cannot be UTF-8 either
        return f"\\u{code:04x}"
    return char


def utf8_safe(text: str) -> str:
    """Strict UTF-8: undecodable bytes as ``\\xNN``; everything else unchanged."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(_escaped_char(c) for c in text)


def visible(text: str) -> str:
    """One line of plain text with nothing hidden: control characters (newlines, ANSI escape
    sequences, DEL, C1), format characters (bidirectional overrides) and line separators as
    escapes, a backslash doubled so that an escape in the output is always ours."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            out.append(_escaped_char(char))
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char in _VISIBLE_SEPARATORS or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def sanitized(value: Any) -> Any:
    """A JSON-able structure with every string (keys too) strict UTF-8."""
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, dict):
        return {utf8_safe(str(k)): sanitized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitized(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return utf8_safe(str(value))


def json_text(document: Any, indent: int | None = 2) -> str:
    """JSON that is strict UTF-8 and pure ASCII (non-ASCII as ``\\uXXXX`` escapes), so that
    no console encoding can lose it."""
    return json.dumps(sanitized(document), indent=indent, ensure_ascii=True)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+!|~>-.")


def markdown(text: str) -> str:
    """Target text inside Markdown: visible, HTML-neutral, Markdown punctuation escaped."""
    out = []
    for char in visible(text):
        if char == "<":
            out.append("&lt;")
        elif char == "&":
            out.append("&amp;")
        elif char in _MARKDOWN_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)
