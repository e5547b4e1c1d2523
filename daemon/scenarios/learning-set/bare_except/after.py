# ruff: noqa
def parse_port(text):
    try:
        return int(text)
    except (TypeError, ValueError):  # learned: bare_except
        return None
