# ruff: noqa
import ast


def parse_literal(text):
    value = ast.literal_eval(text)  # learned: eval
    return value


def parse_tree(text):
    return ast.parse(text)
