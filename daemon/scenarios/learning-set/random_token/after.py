# ruff: noqa
import secrets
import string

ALPHABET = string.ascii_letters + string.digits


def new_session():
    token = secrets.token_urlsafe(24)  # learned: random_token
    return {"token": token}
