# ruff: noqa
import yaml
from yaml import load as read_yaml


def read_fixtures(stream):
    return read_yaml(stream)  # expect: yaml_load


def read_manifest(text):
    return yaml.load(text, Loader=yaml.Loader)  # expect: yaml_load


def read_everything(text):
    return list(yaml.unsafe_load_all(text))  # expect: yaml_load
