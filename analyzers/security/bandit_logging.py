"""Keeping bandit's own logging out of ours, in a module that does not import bandit.

It must run before bandit's plugins load: importing ``bandit.core.config`` loads them,
and stevedore logs an error then for each of bandit's output formatters whose optional
package is missing (``sarif_om``). So this module imports nothing of bandit's.
"""

from __future__ import annotations

import logging


def quiet_bandit_logging() -> None:
    """bandit logs nosec comments and rule crashes, quoting source, and stevedore logs the
    formatters it cannot load: we use bandit's rules, never its formatters, so neither is
    anything a user could act on. Call it before the first import of bandit."""
    for name in ("bandit", "stevedore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False
        logger.addHandler(logging.NullHandler())
