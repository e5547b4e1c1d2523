"""The one adapter to the central PostgreSQL: connecting, and what went wrong in one line.

Credentials come from the URL, ``PGPASSFILE`` or the environment, as libpq reads them; the
password never reaches a message (:func:`masked`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from daemon.fleet.errors import FleetError, FleetUsageError

# psycopg warns when a COPY it was sending dies with the connection; the error that caused
# it is what we report, in one line, so its echo is noise on stderr and in the journal.
logging.getLogger("psycopg").setLevel(logging.ERROR)

#: Seconds to wait for the server before calling it unreachable: a shipper must never hang
#: the daemon's scheduler on a server that is down.
CONNECT_TIMEOUT = 5
APPLICATION_NAME = "realworld"


def parse_url(url: str) -> dict[str, str]:
    """The URL's or DSN's parameters; a :class:`FleetUsageError` when libpq cannot read it."""
    try:
        return {key: str(value) for key, value in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        raise FleetUsageError(f"invalid fleet URL: {_first_line(exc)}") from None


def masked(url: str) -> str:
    """``url`` for messages and status: every parameter but the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable fleet URL>"
    user = params.get("user")
    host = params.get("host", "localhost")
    port = params.get("port")
    dbname = params.get("dbname", user or "")
    where = f"{host}:{port}" if port else str(host)
    who = f"{user}@" if user else ""
    return f"postgresql://{who}{where}/{dbname}"


def fleet_key(url: str) -> str:
    """The identity of a central database, the same whatever the password or options."""
    return masked(url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe(exc: psycopg.Error, url: str) -> FleetError:
    """A psycopg error as the one line a person can act on, with its exit class."""
    where = masked(url)
    secret = parse_url(url).get("password") if url else None
    detail = _first_line(exc)
    if secret:
        detail = detail.replace(secret, "***")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return FleetUsageError(f"fleet {where}: permission denied ({detail}); the role needs "
                               f"CREATE on the database to set up the central schema")
    if isinstance(exc, pg_errors.InvalidPassword | pg_errors.InvalidAuthorizationSpecification):
        return FleetUsageError(f"fleet {where}: authentication failed ({detail})")
    if isinstance(exc, pg_errors.InvalidCatalogName):
        return FleetUsageError(f"fleet {where}: no such database ({detail})")
    if isinstance(exc, psycopg.OperationalError):
        lowered = detail.lower()
        if "password authentication failed" in lowered or "no password supplied" in lowered:
            return FleetUsageError(f"fleet {where}: authentication failed ({detail})")
        if "does not exist" in lowered and "database" in lowered:
            return FleetUsageError(f"fleet {where}: no such database ({detail})")
        return FleetError(f"fleet {where} unreachable: {detail}")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return FleetUsageError(f"fleet {where}: read-only: {detail}")
    return FleetError(f"fleet {where}: {type(exc).__name__}: {detail}")


def connect(url: str, *, autocommit: bool = False, read_only: bool = False,
            **options: Any) -> psycopg.Connection[Any]:
    """A connection to the central database, or a :class:`FleetError` saying why not."""
    parse_url(url)
    conninfo = make_conninfo(url, connect_timeout=CONNECT_TIMEOUT,
                             application_name=APPLICATION_NAME, **options)
    try:
        conn = psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.Error as exc:
        raise describe(exc, url) from None
    if read_only:
        conn.read_only = True
    return conn


@contextmanager
def session(url: str, **options: Any) -> Iterator[psycopg.Connection[Any]]:
    """A connection for the block; psycopg errors inside it become :class:`FleetError`."""
    conn = connect(url, **options)
    try:
        yield conn
    except psycopg.Error as exc:
        raise describe(exc, url) from None
    finally:
        conn.close()
