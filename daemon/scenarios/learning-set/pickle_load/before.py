# ruff: noqa
import json
import pickle


def load_session(blob):
    data = pickle.loads(blob)
    return data


def save_session(data):
    return json.dumps(data).encode()
