# ruff: noqa
def display_name(user):
    if user == None:
        return "anonymous"
    return user.name
