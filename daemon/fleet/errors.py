"""What can go wrong with the fleet, as the command line sorts it into exit statuses.

Apart from :mod:`daemon.fleet.connection` so that code which only names these errors (the
command line's error handling, every command that never talks to PostgreSQL) does not load
psycopg: 50 ms of every ``realworld`` command, ``run --once`` in a pre-commit hook included.
"""

from __future__ import annotations


class FleetError(Exception):
    """A fleet operation that failed for a reason outside this machine (the server down, the
    network cut): one line for a person, exit 1. The password is never in it."""


class FleetUsageError(FleetError):
    """Bad input about the fleet (a malformed URL, a wrong password, missing rights, a newer
    central schema): exit 2."""


class FleetCheckFailed(FleetError):
    """The central log or its projections disagree with what was shipped: exit 1, naming the
    machine and ``seq``."""
