"""Masked previews and bandit messages with the secret taken out.

Every value below is made up for the test (random characters in the issuers' formats).
"""

from __future__ import annotations

import random
import string
import textwrap

import pytest

from analyzers.common.secrets.find import find_secrets
from analyzers.common.secrets.redact import mask, mask_secrets, redact_bandit_message
from analyzers.security.bandit_logging import quiet_bandit_logging
from analyzers.security.python_rules import BanditRules, PyScan

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


def test_mask_secrets_masks_every_value_and_keeps_the_lines() -> None:
    password = "!" + rand(ALNUM, 15)
    text = (f"AWS_ACCESS_KEY_ID={AWS_ID}\n"
            f"aws_secret_access_key = '{AWS_SECRET}'\n"
            f"Password={password}\n"
            "plain = 1\n")
    masked = mask_secrets(text)
    for value in (AWS_ID, AWS_SECRET, password):
        assert value not in masked
    assert masked.splitlines() == [
        f"AWS_ACCESS_KEY_ID={mask(AWS_ID)}",
        f"aws_secret_access_key = '{mask(AWS_SECRET)}'",
        f"Password={mask(password)}",
        "plain = 1",
    ]
    assert find_secrets(masked) == []  # nothing left for a second pass to find


def test_mask_secrets_keeps_the_armor_of_a_private_key_and_masks_its_body() -> None:
    body = [rand(ALNUM + "+/", 64) for _ in range(6)]
    text = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + \
        "\n-----END RSA PRIVATE KEY-----\n"
    masked = mask_secrets(text)
    assert masked.splitlines() == ["-----BEGIN RSA PRIVATE KEY-----",
                                   *[mask(line) for line in body],
                                   "-----END RSA PRIVATE KEY-----"]


def test_mask_secrets_covers_a_quoted_value_with_its_escapes() -> None:
    text = 'db_password = "Xk9\\\\pL2qzW#41"\n'  # the file holds one escaped backslash
    masked = mask_secrets(text)
    assert masked == f'db_password = "{mask(text[15:-2])}"\n'


def test_mask_secrets_leaves_an_allowlisted_line_and_plain_text_alone() -> None:
    allowed = f"key = '{GITHUB}'  # pragma: allowlist secret\n"
    assert mask_secrets(allowed) == allowed
    assert mask_secrets("") == ""
    assert mask_secrets("nothing to see\n") == "nothing to see\n"
