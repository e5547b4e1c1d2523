# ruff: noqa
import os
import tempfile


def scratch_file(data):
    descriptor, path = tempfile.mkstemp(suffix=".txt")  # learned: mktemp
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(data)
    return path
