"""Text safe to print on one line: for paths and lines that come from arbitrary files.

A file name may hold a newline or bytes that are not UTF-8 (kept as lone surrogates
by ``os.fsdecode``); a line of a file may hold terminal escape sequences. Printed as
they are, the first breaks ``path:line:col`` parsing, the second can rewrite the
user's terminal. Both are shown as backslash escapes instead.
"""

from __future__ import annotations

import os


def printable(text: str) -> str:
    """``text`` with undecodable bytes as ``\\xNN`` and control characters escaped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(char: str) -> str:
    if char == "\t":
        return "\\t"
    return repr(char)[1:-1]  # '\n' -> \n, '\x1b' -> \x1b, '\u2028' -> \u2028
