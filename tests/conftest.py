"""Shared helpers for the core's tests: real SQLite files, event strategies, table snapshots.

Test modules import the plain helpers from here (``from conftest import ...``); pytest puts
this directory on ``sys.path`` before collecting them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import strategies as st

from daemon import types
from daemon.log import events as ev
from daemon.log.database import Database
from daemon.log.events import Envelope, Event, format_ts
from daemon.log.hashchain import GENESIS_HASH, event_hash
from daemon.log.schema import PRIMARY_KEYS, PROJECTION_TABLES
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up

TESTS_ROOT = Path(__file__).resolve().parent
REPO_ROOT = TESTS_ROOT.parent
BASE_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

Snapshot = dict[str, list[tuple[object, ...]]]

# --- a private home for the whole run ---------------------------------------------------
#
# The code keeps per-user files in the XDG dirs: the fingerprint salt and the daemon's log
# under $XDG_STATE_HOME, code indexes under $XDG_CACHE_HOME, the config file under
# $XDG_CONFIG_HOME. A test that forgets to redirect them would write into the real ones
# (or read the developer's config), so every test, and every subprocess a test starts
# (they inherit os.environ), gets fresh ones. Set in pytest_configure, not a fixture, so
# nothing that runs at collection time sees the real dirs either.

XDG_DIRS = ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
# Variables naming a user's own files; a test that wants one sets it itself.
USER_FILE_VARIABLES = ("REALWORLD_TESTING_DB", "REALWORLD_INDEX_DB",
                       "REALWORLD_FINGERPRINT_SALT_FILE", "REALWORLD_SECURITY_BASELINE")

_saved_env: dict[str, str | None] = {}
_run_home: Path | None = None


def isolated_env(home: Path) -> dict[str, str]:
    """The XDG variables pointing inside ``home``, one directory each."""
    return {name: str(home / name.lower()) for name in XDG_DIRS}


def run_home() -> Path:
    """The temporary directory that holds this run's XDG dirs."""
    assert _run_home is not None, "pytest_configure has not run"
    return _run_home


def pytest_configure(config: pytest.Config) -> None:
    global _run_home
    _run_home = Path(tempfile.mkdtemp(prefix="realworld-tests-"))
    for name in (*XDG_DIRS, *USER_FILE_VARIABLES):
        _saved_env[name] = os.environ.pop(name, None)
    os.environ.update(isolated_env(_run_home))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _run_home
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()
    if _run_home is not None:
        shutil.rmtree(_run_home, ignore_errors=True)
        _run_home = None


BENCHMARKS_VARIABLE = "REALWORLD_BENCHMARKS"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Benchmarks (``@pytest.mark.benchmark``) run on demand only: they take minutes and
    measure the machine as much as the code, so the default run (CI) skips them."""
    if item.get_closest_marker("benchmark") is None:
        return
    if os.environ.get(BENCHMARKS_VARIABLE, "").strip() == "1":
        return
    if str(item.config.getoption("markexpr", default="") or "").strip() == "benchmark":
        return
    pytest.skip(f"benchmark: run with `pytest tests/benchmarks -m benchmark -s` "
                f"or {BENCHMARKS_VARIABLE}=1")


def mount(target: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *options, target.as_posix()], capture_output=True,
                          text=True, check=False)


@contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` (a tmpfs, ``mount -o size=``) at ``where``, to fill up:
    it needs root, which CI has; elsewhere the test skips and says why."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    where.mkdir()
    mounted = mount(where, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", where.as_posix()], check=False).returncode != 0:
            subprocess.run(["umount", "-l", where.as_posix()], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system: less than a session on this repository writes in a second."""
    with small_filesystem(tmp_path / "small", "3m") as where:
        yield where


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "log.db", create=True)


def plain_connect(path: Path) -> sqlite3.Connection:
    """A connection that goes around our code entirely, as any other tool would."""
    return sqlite3.connect(path, isolation_level=None)


def envelopes(events: Sequence[Event], start: int = 0) -> list[Envelope]:
    """Deterministic timestamps and ids, so two logs built from one list are identical."""
    return [
        Envelope(event, ts=format_ts(BASE_TIME + timedelta(seconds=start + i)),
                 event_id=f"evt-{start + i:06d}")
        for i, event in enumerate(events)
    ]


def append_all(db: Database, events: Sequence[Event]) -> None:
    with EventStore(db) as store:
        store.append(envelopes(events))


def append_raw(db: Database, event_type: str, version: int, payload_json: str,
               session_id: str = "s-raw") -> int:
    """Append a row our EventStore would not write (an old or foreign version), chained
    correctly, through a plain connection; returns its seq."""
    conn = plain_connect(db.path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        tail = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        last_seq, prev = tail if tail is not None else (0, GENESIS_HASH)
        seq = last_seq + 1
        event_id = f"raw-{seq}"
        ts = format_ts(BASE_TIME + timedelta(days=1, seconds=seq))
        digest = event_hash(prev, seq, event_id, session_id, event_type, version, ts, payload_json)
        conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (seq, event_id, session_id, event_type, version, ts, payload_json, prev,
                      digest))
        conn.execute("COMMIT")
        return seq
    finally:
        conn.close()


def snapshot(db: Database) -> Snapshot:
    """Every projection table's rows in primary-key order."""
    conn = db.connect_readonly()
    try:
        return {
            table: conn.execute(
                f"SELECT * FROM {table} ORDER BY {', '.join(PRIMARY_KEYS[table])}").fetchall()
            for table in PROJECTION_TABLES
        }
    finally:
        conn.close()


def event_rows(db: Database) -> list[tuple[object, ...]]:
    conn = db.connect_readonly()
    try:
        return conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


# --- strategies ---------------------------------------------------------------
#
# Small pools of ids make collisions likely: repeated starts and ends, updates to issues
# that exist or not, findings that come back, files moved onto each other, and events for
# sessions that never started.

SESSION_IDS = ("s-alpha", "s-beta", "s-gamma", "s-ünïcode")
ISSUE_IDS = ("issue-1", "issue-2", "issue-3")
FINGERPRINTS = ("fp-1", "fp-2", "fp-3")
WORKSPACES = ("/ws/one", "/ws/two")
# The last name is not UTF-8 on disk: surrogateescape, as os.fsdecode gives it.
PATHS = ("a.py", "b.py", "pkg/c.py", "dir with space/d é.txt", "bad-\udcff.py")
CAPABILITIES = ("code_indexer", "code_search", "security_scanner")

texts = st.text(st.characters(codec="utf-8"), max_size=12)
optional_texts = st.none() | texts
numbers = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
optional_numbers = st.none() | numbers
optional_bools = st.none() | st.booleans()
sessions = st.sampled_from(SESSION_IDS)
pids = st.integers(1, 2**22)
hosts = st.sampled_from(("box-a", "box-b"))
capabilities = st.sampled_from(CAPABILITIES)
severities = st.sampled_from(types.SEVERITIES)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
# Mostly unique ids, sometimes a repeat, since a projection must cope with both.
unique_ids = st.uuids().map(lambda u: u.hex) | st.sampled_from(("dup-1", "dup-2"))

EVENT_STRATEGIES: dict[type[Event], st.SearchStrategy[Event]] = {
    ev.SessionStarted: st.builds(
        ev.SessionStarted, session_id=sessions, project_path=texts,
        duration_minutes=st.floats(0, 600, allow_nan=False) | st.integers(0, 600),
        mode=st.sampled_from(("timed", "continuous", "once")),
        pid=st.none() | pids, host=st.none() | hosts),
    ev.SessionResumed: st.builds(ev.SessionResumed, session_id=sessions, pid=pids, host=hosts),
    ev.SessionEnded: st.builds(
        ev.SessionEnded, session_id=sessions, status=st.sampled_from(sorted(types.ENDED_STATUSES)),
        reason=texts),
    ev.SessionScored: st.builds(
        ev.SessionScored, session_id=sessions, overall_score=st.floats(0, 100)),
    ev.ActivityRecorded: st.builds(
        ev.ActivityRecorded, session_id=sessions, activity_id=unique_ids,
        capability=capabilities, activity_type=st.sampled_from(("index", "search", "scan")),
        description=optional_texts, response_time_ms=optional_numbers,
        cpu_before=optional_numbers, cpu_after=optional_numbers,
        memory_before_mb=optional_numbers, memory_after_mb=optional_numbers,
        success=st.booleans(), error_message=optional_texts,
        result_data=st.none() | st.dictionaries(texts, json_values, max_size=3)),
    ev.MetricSampled: st.builds(
        ev.MetricSampled, session_id=sessions, metric_id=unique_ids, capability=capabilities,
        metric_type=st.sampled_from(("response_time", "cpu_usage", "accuracy")),
        value=numbers, unit=st.sampled_from(("ms", "%", "MB")), context=optional_texts),
    ev.ResourcesSampled: st.builds(
        ev.ResourcesSampled, session_id=sessions, cpu=numbers, mem=numbers, disk=numbers,
        proc_cpu=numbers, rss_mb=numbers),
    ev.IssueDetected: st.builds(
        ev.IssueDetected, session_id=sessions, issue_id=st.sampled_from(ISSUE_IDS),
        severity=severities, capability=capabilities,
        issue_type=st.sampled_from(("slow", "crash", "leak")), description=optional_texts,
        suggested_fix=optional_texts, reproducible=optional_bools),
    ev.IssueUpdated: st.builds(
        ev.IssueUpdated, session_id=sessions, issue_id=st.sampled_from(ISSUE_IDS),
        severity=st.none() | severities, description=optional_texts,
        suggested_fix=optional_texts, reproducible=optional_bools),
    ev.SuggestionMade: st.builds(
        ev.SuggestionMade, session_id=sessions,
        category=st.sampled_from(("performance", "reliability", "bug_fix")),
        priority=st.sampled_from(("critical", "high", "medium", "low")), suggestion=texts,
        rationale=optional_texts, estimated_impact=optional_texts),
    ev.FindingDetected: st.builds(
        ev.FindingDetected, session_id=sessions, fingerprint=st.sampled_from(FINGERPRINTS),
        capability=capabilities, rule=st.sampled_from(("B105", "secret", "complexity")),
        path=st.sampled_from(PATHS), line=st.integers(1, 10_000), severity=severities,
        confidence=st.sampled_from(("high", "medium", "low")), message=texts, preview=texts),
    ev.FindingResolved: st.builds(
        ev.FindingResolved, session_id=sessions, fingerprint=st.sampled_from(FINGERPRINTS)),
    ev.FindingsSummarized: st.builds(
        ev.FindingsSummarized, session_id=sessions, capability=capabilities,
        open_findings=st.integers(0, 10**6),
        by_severity=st.dictionaries(severities, st.integers(0, 10**6), max_size=4),
        digest=st.text("0123456789abcdef", min_size=64, max_size=64)),
    ev.FileChanged: st.builds(
        ev.FileChanged, session_id=sessions, workspace=st.sampled_from(WORKSPACES),
        path=st.sampled_from(PATHS),
        change=st.sampled_from(("created", "modified", "moved", "deleted")),
        size=st.none() | st.integers(0, 2**40), mtime=optional_numbers,
        content_hash=st.none() | st.text("0123456789abcdef", min_size=8, max_size=8),
        dest_path=st.none() | st.sampled_from(PATHS)),
    ev.WorkspaceRescanned: st.builds(
        ev.WorkspaceRescanned, session_id=sessions, workspace=st.sampled_from(WORKSPACES),
        reason=st.sampled_from(("startup", "overflow")), files_seen=st.integers(0, 10**6),
        files_changed=st.integers(0, 10**6), duration_ms=st.floats(0, 1e6)),
    ev.PatternLearned: st.builds(
        ev.PatternLearned, session_id=sessions,
        shape=st.sampled_from(("yaml_load", "bare_except", "eq_none")), fix=texts,
        path=st.sampled_from(PATHS), line=st.integers(1, 3), before_excerpt=texts,
        after_excerpt=texts),
    ev.FileQuarantined: st.builds(
        ev.FileQuarantined, session_id=sessions, workspace=st.sampled_from(WORKSPACES),
        capability=capabilities, path=st.sampled_from(PATHS),
        content_hash=st.text("0123456789abcdef", min_size=8, max_size=8), error=texts,
        crashes=st.integers(2, 5)),
    ev.FileReleased: st.builds(
        ev.FileReleased, session_id=sessions, workspace=st.sampled_from(WORKSPACES),
        capability=capabilities, path=st.sampled_from(PATHS),
        reason=st.sampled_from(("its content changed", "it is gone"))),
    ev.LogArchived: st.builds(
        ev.LogArchived, session_id=st.just(ev.ARCHIVE_STREAM),
        segment=st.sampled_from(("seg-000000000001-000000000009.jsonl.zst",
                                 "seg-000000000010-000000000020.jsonl.zst")),
        sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
        size=st.integers(0, 2**40), first_seq=st.integers(1, 10**6),
        last_seq=st.integers(1, 10**6), events=st.integers(1, 10**6),
        sessions=st.integers(0, 10**4),
        first_prev_hash=st.text("0123456789abcdef", min_size=64, max_size=64),
        anchor=st.text("0123456789abcdef", min_size=64, max_size=64),
        base_digest=st.text("0123456789abcdef", min_size=64, max_size=64),
        origin=st.text("0123456789abcdef", min_size=64, max_size=64),
        cutoff=st.just("2024-04-01T00:00:00.000000+00:00")),
}

any_event: st.SearchStrategy[Event] = st.one_of(*EVENT_STRATEGIES.values())
# What sessions write: everything but the log's own bookkeeping, which only
# ``realworld archive`` appends, and which a forged copy would make unverifiable on purpose.
session_event: st.SearchStrategy[Event] = st.one_of(
    *(strategy for kind, strategy in EVENT_STRATEGIES.items() if kind is not ev.LogArchived))


def event_lists(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[list[Event]]:
    return st.lists(any_event, min_size=min_size, max_size=max_size)


def session_event_lists(min_size: int = 0,
                        max_size: int = 40) -> st.SearchStrategy[list[Event]]:
    return st.lists(session_event, min_size=min_size, max_size=max_size)


def activity_events(n: int, session_id: str = "s-one", *, note_chars: int = 0) -> list[Event]:
    """``n`` security scanner calls, one in seven failed; ``note_chars`` pads each payload."""
    note = {"note": "x" * note_chars} if note_chars else {}
    return [ev.ActivityRecorded(session_id, f"act-{i}", "security_scanner", "scan",
                                response_time_ms=float(i), success=i % 7 != 0,
                                result_data={"i": i, **note})
            for i in range(n)]


def activity_log(path: Path, n: int, *, note_chars: int = 0) -> Database:
    """A log of one session with ``n`` activities (``n + 1`` events), projected."""
    db = Database.open(path, create=True)
    append_all(db, [ev.SessionStarted("s-one", "/work/project", 5),
                    *activity_events(n, note_chars=note_chars)])
    catch_up(db)
    return db


# --- a real PostgreSQL for the fleet's tests (started on first use) ------------------------

from postgres_server import fleet_url, postgres_server  # noqa: E402

__all__ = ["fleet_url", "postgres_server"]
