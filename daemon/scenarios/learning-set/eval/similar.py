# ruff: noqa
def compute(expression, variables):
    return eval(expression, {}, variables)  # expect: eval


def parse_list(text):
    return list(eval(text))  # expect: eval
