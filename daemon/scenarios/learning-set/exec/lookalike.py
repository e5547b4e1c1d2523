# ruff: noqa
from concurrent.futures import ThreadPoolExecutor


def run_all(cursor, statements):
    with ThreadPoolExecutor() as executor:
        executor.submit(print, "start")  # expect: none
    for statement in statements:
        cursor.execute(statement)  # expect: none
