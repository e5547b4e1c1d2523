# ruff: noqa
import os


def remove_tree(path):
    if os.path.isdir(path):
        os.system("rm -rf " + path)
