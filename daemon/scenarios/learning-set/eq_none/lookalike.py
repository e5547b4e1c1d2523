# ruff: noqa
def describe(value, count):
    if value is None:  # expect: none
        return "missing"
    if count == 0:  # expect: none
        return "empty"
    return "None" if value == "None" else str(value)  # expect: none
