# ruff: noqa
import hashlib


def sign(secret, message):
    return hashlib.sha1(secret + message).hexdigest()  # expect: weak_hash


def token_digest(token):
    return hashlib.new("md5", token).hexdigest()  # expect: weak_hash
