# ruff: noqa
import json
import pickle


def save_model(model, path):
    with open(path, "wb") as stream:
        pickle.dump(model, stream)  # expect: none


def decode_message(payload):
    return json.loads(payload)  # expect: none


def decode_with(loader, payload):
    return loader.loads(payload)  # expect: none
