# ruff: noqa
from tempfile import mktemp


def socket_path():
    return mktemp(prefix="sock-")  # expect: mktemp
