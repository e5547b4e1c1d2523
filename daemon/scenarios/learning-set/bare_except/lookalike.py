# ruff: noqa
def parse_float(text):
    try:
        return float(text)
    except ValueError:  # expect: none
        return None


def close_quietly(resource):
    try:
        resource.close()
    except Exception as exc:  # expect: none
        return exc
    return None
