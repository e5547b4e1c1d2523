# ruff: noqa
def load_config(path):
    namespace = {}
    with open(path, encoding="utf-8") as stream:
        exec(compile(stream.read(), path, "exec"), namespace)  # expect: exec
    return namespace
