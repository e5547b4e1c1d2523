# ruff: noqa
import yaml


def load_legacy(stream):
    return yaml.load(stream)


def load_current(stream):
    return yaml.safe_load(stream)
