"""Masked previews: what may be shown of a secret (invariant 4).

A preview keeps at most 4 leading characters, and never more than an eighth of
the value (none at all below 8 characters), then an ellipsis and the length.
For the token formats the kept characters are the public prefix (``AKIA``,
``ghp_``, ``xoxb``) that only says which kind of key it is; for a password the
length and at most one character in eight is all that is given away.

:func:`mask_secrets` applies the same mask to every secret in a text, in place: what
the code index stores of a file and what a log line says, so neither holds a value.
"""

from __future__ import annotations

import re

from analyzers.common.secrets.find import find_secrets

MAX_SHOWN = 4

# bandit quotes the literal in these messages ("Possible hardcoded password: 'hunter2'").
_QUOTED_PASSWORD = re.compile(r"^(Possible hardcoded password): (.*)$", re.DOTALL)
_LINE_PIECE = re.compile(r"[^\r\n]+")


def shown_chars(length: int) -> int:
    return min(MAX_SHOWN, length // 8)


def mask(value: str) -> str:
    """``'AKIAZ7…'``-style: a few leading characters, an ellipsis, the length."""
    length = len(value)
    return f"{value[:shown_chars(length)]}…({length} chars)"


def redact_bandit_message(test_id: str, text: str) -> str:
    """bandit's issue text with any quoted secret (B105-B107) masked."""
    match = _QUOTED_PASSWORD.match(text)
    if match is None:
        return text
    quoted = match.group(2)
    value = quoted[1:-1] if len(quoted) >= 2 and quoted[0] == quoted[-1] == "'" else quoted
    return f"{match.group(1)}: {mask(value)}"


def mask_secrets(text: str) -> str:
    """``text`` with each secret the rules find replaced by its :func:`mask`; lines
    stay where they were (a span never swallows a line end), and a line the user
    allowlisted (``pragma: allowlist secret``) is left as it is."""
    hits = find_secrets(text) if text else []
    if not hits:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in sorted(span for hit in hits for span in hit.spans):
        start = max(start, position)  # overlapping spans: the rest of this one only
        if end <= start:
            continue
        pieces += [text[position:start],
                   _LINE_PIECE.sub(lambda m: mask(m.group()), text[start:end])]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
