# ruff: noqa
import tempfile


def scratch_file(data):
    path = tempfile.mktemp(suffix=".txt")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(data)
    return path
