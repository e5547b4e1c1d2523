# ruff: noqa
CONFIG = {}


def current_mode(default):
    assert isinstance(CONFIG, dict)  # expect: none
    return CONFIG.get("mode", default)


def deposit(account, amount):
    if amount <= 0:  # expect: none
        raise ValueError("amount must be positive")
    account.balance += amount
