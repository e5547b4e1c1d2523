# ruff: noqa
import pickle as serializer


def load_model(path):
    with open(path, "rb") as stream:
        return serializer.load(stream)  # expect: pickle_load


def decode_message(payload):
    return serializer.loads(payload)  # expect: pickle_load
