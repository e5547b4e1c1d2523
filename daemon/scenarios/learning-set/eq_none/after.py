# ruff: noqa
def display_name(user):
    if user is None:  # learned: eq_none
        return "anonymous"
    return user.name
