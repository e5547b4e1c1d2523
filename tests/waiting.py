"""Waiting in tests for what another thread or process makes true in files and databases.

Those conditions have no event a test could block on (a row appearing in another
process's SQLite file), so this polls; code under test never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 20.0, step: float = 0.05) -> T:
    """``condition()``'s first truthy value; AssertionError if none within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)
