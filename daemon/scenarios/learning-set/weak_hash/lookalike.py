# ruff: noqa
import hashlib


def cache_key(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()  # expect: none


def content_id(data):
    return hashlib.sha256(data).hexdigest()  # expect: none


def fast_id(data):
    return hashlib.blake2b(data).hexdigest()  # expect: none
