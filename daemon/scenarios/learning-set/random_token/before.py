# ruff: noqa
import random
import string

ALPHABET = string.ascii_letters + string.digits


def new_session():
    token = "".join(random.choice(ALPHABET) for _ in range(32))
    return {"token": token}
