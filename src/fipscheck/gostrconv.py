"""Go's string literals as ``strconv.Unquote`` reads them, for build settings that Go quoted
(``-ldflags="-s -w"``). Hand-written and linear: ``ast.literal_eval``, used before, parses any
Python expression between two quotes, and a crafted 200 KB setting exhausted its parser's
memory. Runs of plain bytes are copied whole; only escapes are looked at one by one."""

from __future__ import annotations

import re

# One-letter escapes, and those followed by a fixed number of hex or octal digits.
ESCAPES = {ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9,
           ord("v"): 11, ord("\\"): 92, ord('"'): 34}
NUMERIC = {ord("x"): (2, 16), ord("u"): (4, 16), ord("U"): (8, 16)}
OCTAL = frozenset(b"01234567")
HEX = frozenset(b"0123456789abcdefABCDEF")
STOP = re.compile(rb'[\\"\n]')  # what ends a run of plain bytes in a double-quoted literal


class UnquoteError(ValueError):
    """Not a Go string literal (strconv.ErrSyntax)."""


def unquote(text: str) -> str:
    """The value of a double-quoted or backquoted Go string literal (all of ``text``).
    Non-UTF-8 bytes, from the text or from ``\\x``/octal escapes, come back as surrogates."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b'"', b"`"):
        raise UnquoteError("not a quoted string")
    body = data[1:-1]
    if data[:1] == b"`":
        if b"`" in body:
            raise UnquoteError("a backquote inside a raw string")
        return body.replace(b"\r", b"").decode("utf-8", "surrogateescape")
    out, i = bytearray(), 0
    while (stop := STOP.search(body, i)) is not None:
        out += body[i:stop.start()]
        i = stop.start()
        if body[i] != 92:  # a newline or a bare quote cannot be inside the literal
            raise UnquoteError(f"{chr(body[i])!r} inside a quoted string")
        i = _escape(body, i + 1, out)
    out += body[i:]
    return out.decode("utf-8", "surrogateescape")


def _escape(body: bytes, at: int, out: bytearray) -> int:
    """Appends the escape whose letter is at ``body[at]``; returns where the escape ends."""
    kind = body[at] if at < len(body) else -1
    if kind in ESCAPES:
        out.append(ESCAPES[kind])
        return at + 1
    if kind not in NUMERIC and kind not in OCTAL:
        raise UnquoteError("unknown escape")
    digits, base = NUMERIC.get(kind, (3, 8))
    start = at if kind in OCTAL else at + 1
    number = body[start:start + digits]
    if len(number) < digits or not set(number) <= (HEX if base == 16 else OCTAL):
        raise UnquoteError("bad digits in an escape")
    value = int(number, base)
    if kind == ord("x") or kind in OCTAL:  # a byte
        if value > 255:
            raise UnquoteError("octal escape over 255")
        out.append(value)
    elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:  # a rune, which must be valid
        raise UnquoteError("escape of an invalid rune")
    else:
        out += chr(value).encode()
    return start + digits


def quoted_prefix_end(text: str) -> int:
    """Where the literal at the start of ``text`` ends, the closing quote's index
    (strconv.QuotedPrefix); -1 when it does not end."""
    if text[:1] == "`":
        return text.find("`", 1)
    end = 1
    while end < len(text) and text[end] not in '"\n':
        end += 2 if text[end] == "\\" else 1
    return end if end < len(text) and text[end] == '"' else -1
