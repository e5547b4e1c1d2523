# ruff: noqa
import json


def load_session(blob):
    data = json.loads(blob)  # learned: pickle_load
    return data


def save_session(data):
    return json.dumps(data).encode()
