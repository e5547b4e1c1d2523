# ruff: noqa
import hashlib


def password_digest(password, salt):
    return hashlib.sha256(salt + password.encode()).hexdigest()  # learned: weak_hash
