# ruff: noqa
import random


def make_reset_code():
    return random.randint(100000, 999999)  # expect: random_token


def new_credentials(user):
    api_key = random.getrandbits(128)  # expect: random_token
    return {"user": user, "api_key": api_key}
