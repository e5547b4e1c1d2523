"""Text from arbitrary files made safe to print on one line."""

from __future__ import annotations

import os

from analyzers.common.printable import printable


def test_plain_text_is_left_alone() -> None:
    assert printable("app/models.py") == "app/models.py"
    assert printable("a b\tc") == "a b\\tc"


def test_control_characters_and_undecodable_bytes_are_escaped() -> None:
    assert printable("new\nline.py") == "new\\nline.py"
    assert printable("\x1b[2Jclear") == "\\x1b[2Jclear"
    assert printable("\u2028") == "\\u2028"
    assert printable(os.fsdecode(b"caf\xe9.py")) == "caf\\xe9.py"
