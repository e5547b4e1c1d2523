# ruff: noqa
"""Application settings."""

import yaml


def load_settings(path):
    with open(path, encoding="utf-8") as stream:
        settings = yaml.safe_load(stream)  # learned: yaml_load
    return settings or {}
