# ruff: noqa
from ast import literal_eval


class Model:
    def eval(self):
        return self


def parse_list(text):
    return literal_eval(text)  # expect: none


def switch(model):
    return model.eval()  # expect: none


def evaluate(expression):
    return expression  # expect: none
