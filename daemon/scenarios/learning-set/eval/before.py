# ruff: noqa
import ast


def parse_literal(text):
    value = eval(text)
    return value


def parse_tree(text):
    return ast.parse(text)
