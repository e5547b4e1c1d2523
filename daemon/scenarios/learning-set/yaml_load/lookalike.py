# ruff: noqa
import json

import yaml


class Store:
    def load(self, key):
        return key


def read_safely(text):
    return yaml.safe_load(text)  # expect: none


def read_with_loader(text):
    return yaml.load(text, Loader=yaml.SafeLoader)  # expect: none


def read_json(stream):
    return json.load(stream)  # expect: none


def read_store(store, key):
    return store.load(key)  # expect: none
