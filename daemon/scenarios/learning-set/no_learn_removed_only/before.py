# ruff: noqa
def merge(left, right):
    if left == None:
        return right
    if right is None:
        return left
    return left + right
