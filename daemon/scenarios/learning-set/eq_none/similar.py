# ruff: noqa
def depth(node):
    count = 0
    while node != None:  # expect: eq_none
        node = node.parent
        count += 1
    return count


def is_missing(value):
    return value == None  # expect: eq_none
