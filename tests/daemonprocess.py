"""A daemon as a subprocess for the end-to-end tests and the daemon benchmark: its
config, environment, readiness, and the files it should project."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from daemon.log.database import Database
from daemon.projections.projector import catch_up
from daemon.types import path_from_sql

from conftest import REPO_ROOT

SETTLE_LIMIT_S = 2.0  # criterion 1: the projection equals the disk this soon after the change
STORM_FILES = 5_000
STORM_RSS_LIMIT_MB = 150.0
RSS_SAMPLE_S = 0.1
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
OVERFLOW_MAX_PENDING = 100

FileMap = dict[str, tuple[int, str]]  # path -> (size, sha256 hex)


# --- the daemon as a process ---------------------------------------------------------


def write_config(path: Path, **settings: float | int | str) -> Path:
    """A config whose resource limits cannot trip (so a loaded machine ends no session)."""
    lines = [f"{key} = {value!r}" for key, value in settings.items()]
    lines += ["", "[resource_limits]", "cpu_percent_max = 100", "memory_percent_max = 100",
              "disk_percent_max = 100", "consecutive_errors_max = 100", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def daemon_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REALWORLD_TESTING_DB", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_STATE_HOME"] = str(home / "state")
    return env


class DaemonProcess:
    """One ``realworld daemon`` on one workspace; its JSON log lines go to ``log``."""

    def __init__(self, workspace: Path, db: Path, config: Path, log: Path) -> None:
        self.workspace = workspace
        self.db = db
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        command = [sys.executable, "-m", "daemon", "daemon", "--workspace", str(self.workspace),
                   "--db", str(self.db), "--config", str(self.config)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.db.parent,
                                            env=daemon_env(self.db.parent))

    def log_events(self) -> list[dict[str, object]]:
        """This run's structured log lines (lines that are not JSON are skipped)."""
        with open(self.log, "rb") as stream:
            stream.seek(self._log_offset)
            text = stream.read().decode("utf-8", "replace")
        events = []
        for line in text.splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                events.append(value)
        return events

    def tail(self, lines: int = 25) -> str:
        with open(self.log, "rb") as stream:
            stream.seek(self._log_offset)
            text = stream.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds until the daemon said ``ready`` (first scan and baseline pass done)."""
        assert self.process is not None
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"the daemon exited with {self.process.returncode} before it was "
                            f"ready:\n{self.tail()}")
            if any(e.get("event") == "ready" for e in self.log_events()):
                return time.monotonic() - started
            time.sleep(0.05)
        pytest.fail(f"the daemon was not ready after {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"the daemon did not stop within {STOP_TIMEOUT_S:.0f} s of "
                            f"SIGTERM:\n{self.tail()}")
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT_S)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """``launch(**config)``: a ready daemon on ``tmp_path/ws`` (created by the test)."""
    started: list[DaemonProcess] = []

    def _launch(**settings: float | int | str) -> DaemonProcess:
        root = tmp_path.resolve()
        daemon = DaemonProcess(root / "ws", root / "log.db",
                               write_config(root / "config.toml", **settings),
                               root / "daemon.log")
        started.append(daemon)
        daemon.start()
        daemon.wait_ready()
        return daemon

    yield _launch
    for daemon in started:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()


# --- the two sides of every comparison -------------------------------------------------


def disk_files(workspace: Path) -> FileMap:
    """Every regular file below ``workspace`` as the daemon should track it."""
    found: FileMap = {}
    for dirpath, dirnames, filenames in os.walk(workspace):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            absolute = Path(dirpath) / name
            if absolute.is_symlink() or not absolute.is_file():
                continue
            data = absolute.read_bytes()
            found[absolute.relative_to(workspace).as_posix()] = (
                len(data), hashlib.sha256(data).hexdigest())
    return found


def projected_files(db_path: Path, workspace: Path) -> FileMap:
    """The ``files`` projection of ``workspace``, caught up first (as ``realworld query``)."""
    db = Database.open(db_path)
    catch_up(db)
    conn = db.connect_readonly()
    try:
        rows = conn.execute("SELECT path, size, content_hash FROM files WHERE workspace = ?",
                            (str(workspace),)).fetchall()
    finally:
        conn.close()
    return {path_from_sql(path): (size, content_hash) for path, size, content_hash in rows}


def cli_files(db_path: Path, workspace: Path) -> FileMap:
    """The same, through ``realworld query --format json``."""
    sql = ("SELECT path, size, content_hash FROM files WHERE workspace = '"
           + str(workspace).replace("'", "''") + "'")
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "query", sql, "--db", str(db_path), "--format", "json"],
        capture_output=True, text=True, env=daemon_env(db_path.parent), timeout=60)
    assert done.returncode == 0, done.stderr
    return {row["path"]: (row["size"], row["content_hash"]) for row in json.loads(done.stdout)}


def difference(expected: FileMap, actual: FileMap, limit: int = 8) -> str:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    stale = sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])
    return (f"{len(missing)} missing {missing[:limit]}, {len(extra)} extra {extra[:limit]}, "
            f"{len(stale)} stale {stale[:limit]} (of {len(expected)} files on disk)")


def wait_until_equal(db_path: Path, workspace: Path, expected: FileMap, since: float,
                     limit: float, grace: float = 10.0) -> float:
    """Seconds after ``since`` (monotonic) at which the projection equalled ``expected``.

    Fails if that takes more than ``limit``; it then keeps looking for up to ``grace``
    more seconds, so the message tells a slow daemon from one that lost changes.
    """
    actual: FileMap = {}
    while True:
        actual = projected_files(db_path, workspace)
        elapsed = time.monotonic() - since
        if actual == expected:
            if elapsed <= limit:
                return elapsed
            pytest.fail(f"the files projection equalled the disk only {elapsed:.2f} s after "
                        f"the last change (limit {limit:.1f} s)")
        if elapsed > limit + grace:
            pytest.fail(f"the files projection still differs from the disk "
                        f"{elapsed:.1f} s after the last change: {difference(expected, actual)}")
        time.sleep(0.05)


def logged_events(db_path: Path, event_type: str) -> list[dict[str, object]]:
    """Payloads of every ``event_type`` event in the log, oldest first (plain SQLite)."""
    conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT payload FROM events WHERE type = ? ORDER BY seq",
                            (event_type,)).fetchall()
    finally:
        conn.close()
    return [json.loads(payload) for (payload,) in rows]


class RssSampler:
    """Samples a process's resident set size every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = RSS_SAMPLE_S) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.samples_mb: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                self.samples_mb.append(self._process.memory_info().rss / 2**20)
            except psutil.Error:
                return  # the process is gone
            if self._stop.wait(self._interval):
                return

    @property
    def peak_mb(self) -> float:
        return max(self.samples_mb, default=0.0)


def report(capsys: pytest.CaptureFixture[str], *lines: str) -> None:
    with capsys.disabled():
        print()
        for line in lines:
            print("  " + line)


# --- workloads ---------------------------------------------------------------------------


def text(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size // 2).hex().encode()[:size].ljust(size, b"0")


def write(path: Path, data: bytes) -> None:
    with open(path, "wb") as stream:
        stream.write(data)


def atomic_save(path: Path, data: bytes, temporary: str) -> None:
    """How editors save: a new file beside the target, then renamed over it."""
    tmp = path.with_name(temporary)
    with open(tmp, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


def pause(rng: random.Random) -> None:
    """Sometimes nothing, sometimes less than the settle window, sometimes more."""
    time.sleep(rng.choice((0.0, 0.0, 0.0, 0.02, 0.05, 0.15)))
