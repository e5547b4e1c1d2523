# ruff: noqa
import importlib


def run_plugin(name, source):  # learned: exec
    module = importlib.import_module(name)
    return getattr(module, "main", None)
