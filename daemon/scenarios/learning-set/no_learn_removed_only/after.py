# ruff: noqa
def merge(left, right):
    if right is None:
        return left
    return left + right
