"""The value tests the secret rules use: what looks like a password, a sequence, entropy.

Every value below is made up for the test (random characters in the issuers' formats).
"""

from __future__ import annotations

import random
import string

from analyzers.common.secrets.rules import is_sequence, looks_like_password, shannon_entropy

_RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


AWS_SECRET = rand(ALNUM + "/+", 40)


def test_value_tests() -> None:
    assert looks_like_password("hunter22", quoted=True)
    assert looks_like_password("!Xk9#pL2qz", quoted=False)
    assert not looks_like_password("get_password()", quoted=False)
    assert not looks_like_password("password_hash", quoted=True)
    assert is_sequence("ABCDEFGHIJKLMNOP")
    assert not is_sequence(AWS_SECRET)
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy(AWS_SECRET) > 4.5
