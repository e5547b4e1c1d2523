# ruff: noqa
def withdraw(account, amount):
    assert amount > 0, "amount must be positive"  # expect: assert_validation
    account.balance -= amount


def resize(image, width, height):
    assert isinstance(width, int) and isinstance(height, int)  # expect: assert_validation
    return image.resize((width, height))
