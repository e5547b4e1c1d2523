# ruff: noqa
import tempfile


def scratch_directory():
    return tempfile.mkdtemp(prefix="work-")  # expect: none


def temp_root():
    return tempfile.gettempdir()  # expect: none
