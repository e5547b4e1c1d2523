"""Masked previews: what may be shown of a secret (invariant 4).

A preview keeps at most 4 leading characters, and never more than an eighth of
the value (none at all below 8 characters), then an ellipsis and the length.
For the token formats the kept characters are the public prefix (``AKIA``,
``ghp_``, ``xoxb``) that only says which kind of key it is; for a password the
length and at most one character in eight is all that is given away.
"""

from __future__ import annotations

import re

MAX_SHOWN = 4

# bandit quotes the literal in these messages ("Possible hardcoded password: 'hunter2'").
_QUOTED_PASSWORD = re.compile(r"^(Possible hardcoded password): (.*)$", re.DOTALL)


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
