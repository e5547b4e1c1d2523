"""A real PostgreSQL server for the fleet's tests, started by the tests themselves.

Debian's ``postgresql`` package gives the binaries (``initdb``, ``pg_ctl``); the cluster
lives in a temporary directory, listens on a free loopback port only, and asks for a
password (scram-sha-256), so a wrong password is a real refusal. PostgreSQL refuses to run
as root, so as root the cluster belongs to the package's ``postgres`` user.

``.ci/run`` installs the package and sets ``REALWORLD_REQUIRE_POSTGRES=1``: there a missing
server fails the tests instead of skipping them.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ADMIN = "realworld_admin"


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    password: str
    user: str | None  # the OS user the server runs as (None: this process's)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bindir / argv[0]), *argv[1:]], capture_output=True,
                              text=True, check=check, user=self.user, timeout=120,
                              env={**os.environ, "LC_ALL": "C"})

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "60", "-l",
                  str(self.datadir / "server.log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} "
                  "-c fsync=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-m", mode, "stop", check=False)

    def url(self, dbname: str = "postgres", user: str = ADMIN,
            password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres", params: Any = None) -> list[Any]:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def new_database(self) -> str:
        """A fresh, empty database; its name."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.execute(f"CREATE DATABASE {name}")
        return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("REALWORLD_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL's initdb and pg_ctl are not installed "
                        "(Debian: apt-get install postgresql)")
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (apt-get install "
                    "postgresql); the fleet's tests need a real server")
    user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="realworld-pg-"))
    datadir = base / "data"
    password = secrets.token_hex(12)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, datadir, _free_port(), password, user)
    server._run("initdb", "-D", str(datadir), "-U", ADMIN, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fleet_url(postgres_server: PostgresServer) -> str:
    """A URL of a fresh, empty database on the test server (as its admin)."""
    return postgres_server.url(postgres_server.new_database())
