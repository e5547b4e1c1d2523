# ruff: noqa
def parse_port(text):
    try:
        return int(text)
    except:
        return None
