# ruff: noqa
import os


def kernel_version():
    return os.popen("uname -r").read().strip()  # expect: os_system


def clear_screen():
    os.system("clear")  # expect: os_system
