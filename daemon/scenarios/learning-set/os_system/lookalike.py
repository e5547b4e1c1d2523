# ruff: noqa
import os
import platform
import sys


def describe():
    system = platform.system()  # expect: none
    return os.path.join(system, sys.platform)  # expect: none
