"""Masked previews and bandit messages with the secret taken out.

Every value below is made up for the test (random characters in the issuers' formats).
"""

from __future__ import annotations

import random
import string
import textwrap

import pytest

from analyzers.common.secrets.redact import mask, redact_bandit_message
from analyzers.security.python_rules import BanditRules, PyScan, quiet_bandit_logging

quiet_bandit_logging()

_RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


AWS_ID = "AKIA" + rand(string.ascii_uppercase + "234567", 16)
AWS_SECRET = rand(ALNUM + "/+", 40)
GITHUB = "ghp_" + rand(ALNUM, 36)


@pytest.mark.parametrize("value", ["hunter2", "Pa55w0rd!Prod", AWS_ID, AWS_SECRET, GITHUB])
def test_mask_shows_at_most_an_eighth_and_four_characters(value: str) -> None:
    shown = mask(value).split("…")[0]
    assert len(shown) <= min(4, len(value) // 8)
    assert mask(value).endswith(f"({len(value)} chars)")
    assert value not in mask(value)


def test_bandit_password_messages_are_masked() -> None:
    text = redact_bandit_message("B105", "Possible hardcoded password: 'Pa55w0rd!Prod'")
    assert text == "Possible hardcoded password: P…(13 chars)"
    assert redact_bandit_message("B602", "subprocess call with shell=True") == \
        "subprocess call with shell=True"


def scan(text: str, name: str = "mod.py") -> PyScan:
    return BanditRules().scan(textwrap.dedent(text).encode(), name)


def test_hardcoded_password_messages_are_masked() -> None:
    issues = scan('''\
        password = "Xk9#pL2qzW"
        def f(password="s3cr3tP4ss!x"):
            pass
        connect(password="Op3nSesame42")
    ''').issues
    assert {i.test_id for i in issues} == {"B105", "B106", "B107"}
    for issue in issues:
        redacted = redact_bandit_message(issue.test_id, issue.text)
        assert "Possible hardcoded password" in redacted
        for value in ("Xk9#pL2qzW", "s3cr3tP4ss!x", "Op3nSesame42"):
            assert value not in redacted
            assert value[:3] not in redacted
