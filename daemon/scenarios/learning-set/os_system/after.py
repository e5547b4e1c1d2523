# ruff: noqa
import os
import subprocess


def remove_tree(path):
    if os.path.isdir(path):
        subprocess.run(["rm", "-rf", path], check=True)  # learned: os_system
