# ruff: noqa
import yaml


def load_current(stream):
    return yaml.safe_load(stream)
