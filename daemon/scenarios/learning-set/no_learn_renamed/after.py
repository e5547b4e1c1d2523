# ruff: noqa
import subprocess


def build(target_name):
    command_line = "make " + target_name
    return subprocess.run(command_line, shell=True)
