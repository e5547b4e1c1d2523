# ruff: noqa
import json


def read_json(path):
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except:  # expect: bare_except
        return {}


class Cache:
    def get(self, key):
        try:
            return self._items[key]
        except:  # expect: bare_except
            return None
