# ruff: noqa
"""Application settings."""

import yaml


def load_settings(path):
    with open(path, encoding="utf-8") as stream:
        settings = yaml.load(stream)
    return settings or {}
