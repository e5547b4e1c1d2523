# ruff: noqa
import importlib


def run_plugin(name, source):
    namespace = {}
    exec(source, namespace)
    return namespace.get(name)
