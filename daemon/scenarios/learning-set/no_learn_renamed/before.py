# ruff: noqa
import subprocess


def build(target):
    cmd = "make " + target
    return subprocess.run(cmd, shell=True)
