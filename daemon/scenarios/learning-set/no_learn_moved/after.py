# ruff: noqa
def first(values):
    return values[0]


def last(values):
    try:
        return values[-1]
    except:
        return None
