# ruff: noqa
import hashlib


def password_digest(password, salt):
    return hashlib.md5(salt + password.encode()).hexdigest()
