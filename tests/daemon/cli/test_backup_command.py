"""``realworld backup`` and ``realworld restore`` with real files and real processes.

Other processes do what users' processes do: append while a backup runs, run a session,
hold the log open, die with pages still in the ``-wal``. Disk full and read-only are a
small tmpfs mounted for the test (as root, where mounting works; skipped otherwise).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.log.database import Database

import unprivileged
from conftest import (
    REPO_ROOT,
    activity_log,
    event_rows,
    plain_connect,
    small_filesystem,
)

ROOT = REPO_ROOT

APPENDER = """
import sys, time
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, new_id
from daemon.log.store import EventStore

with EventStore(Database.open(sys.argv[1])) as store:
    n = 0
    while True:
        store.append([Envelope(ActivityRecorded("s-live", new_id(), "code_search", "search",
                                                response_time_ms=float(n), result_data={"n": n}))
                      for _ in range(10)])
        n += 1
        if n == 1:
            print("ready", flush=True)
        time.sleep(0.002)
"""

SESSION_HOLDER = """
import os, socket, sys, time
from daemon.log.database import Database
from daemon.log.events import Envelope, SessionStarted
from daemon.log.store import EventStore

with EventStore(Database.open(sys.argv[1])) as store:
    store.append([Envelope(SessionStarted("s-held", "/work/project", 5, pid=os.getpid(),
                                          host=socket.gethostname()))])
print("ready", flush=True)
time.sleep(120)
"""

CONNECTION_HOLDER = """
import sys, time
from daemon.log.database import Database

conn = Database.open(sys.argv[1]).connect()
conn.execute("SELECT COUNT(*) FROM events").fetchone()
print("ready", flush=True)
time.sleep(120)
"""

# Appends, then dies before SQLite can checkpoint: the new events live only in the -wal.
WAL_LEAVER = """
import os, signal, sys
from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, new_id
from daemon.log.store import EventStore

store = EventStore(Database.open(sys.argv[1]))
store.append([Envelope(ActivityRecorded("s-late", new_id(), "code_search", "search",
                                        result_data={"late": i}))
              for i in range(int(sys.argv[2]))])
os.kill(os.getpid(), signal.SIGKILL)
"""

CLI_AS_CHILD = """
import contextlib, io, json, sys
from daemon.cli.main import main

out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stderr(err):
    code = main(sys.argv[1:], out=out, err=err)
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue()}))
"""


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def realworld(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *(str(a) for a in argv)],
                          capture_output=True, text=True, env=child_env(), timeout=120,
                          check=False)


@contextmanager
def child(script: str, *args: str | Path) -> Iterator[subprocess.Popen[str]]:
    """A Python process running ``script``, once it has printed ``ready``."""
    proc = subprocess.Popen([sys.executable, "-c", script, *(str(a) for a in args)],
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        if proc.stdout.readline().strip() != "ready":
            proc.wait(timeout=30)
            pytest.fail(f"the child did not start:\n{proc.stderr.read()}")
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def make_log(path: Path, n: int = 40) -> Database:
    return activity_log(path, n, note_chars=200)


def last_seq(path: Path) -> int:
    conn = Database(path).connect_readonly()
    try:
        return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    finally:
        conn.close()


def rows_upto(path: Path, seq: int) -> list[tuple[object, ...]]:
    conn = Database(path).connect_readonly()
    try:
        return conn.execute("SELECT * FROM events WHERE seq <= ? ORDER BY seq", (seq,)).fetchall()
    finally:
        conn.close()


def digests(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` and its content: proof that nothing was touched.

    An empty ``-wal`` and its ``-shm`` are left out: any reader of a WAL database makes
    them, and a read-only one cannot remove them when it closes.
    """
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())
            if p.is_file() and not (p.name.endswith("-shm") or (
                p.name.endswith("-wal") and p.stat().st_size == 0))}


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("realworld: error: "), err
    return lines[0]


# --- (a) a backup while another process appends -----------------------------------------


def test_backup_while_another_process_appends_holds_every_acknowledged_event(
        tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db", n=5000).path
    dest = tmp_path / "backup.db"
    with child(APPENDER, log) as writer:
        acknowledged = last_seq(log)  # everything up to here was acknowledged as written
        code, out, err = run("backup", dest, "--db", log)
        assert code == 0, err
        assert writer.poll() is None, "the writer died during the backup"
        in_backup = last_seq(dest)
        deadline = time.monotonic() + 30
        while last_seq(log) <= in_backup:  # the writer goes on after the snapshot
            assert time.monotonic() < deadline, "the writer stopped appending"
            time.sleep(0.01)
    assert acknowledged > 5001 and in_backup >= acknowledged
    assert out == f"backup: {in_backup:,} events (seq 1-{in_backup}), chain ok -> {dest}\n"
    assert not any(dest.with_name(dest.name + s).exists() for s in ("-wal", "-shm"))
    # Byte for byte: what was acknowledged, and the rest of the snapshot too.
    assert rows_upto(dest, acknowledged) == rows_upto(log, acknowledged)
    assert rows_upto(dest, in_backup) == rows_upto(log, in_backup)
    verified = realworld("verify", "--db", dest)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"chain: ok ({in_backup} events)" in verified.stdout


# --- (b) private and alone ----------------------------------------------------------------


def test_backup_and_restore_write_private_files_even_with_umask_000(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    old_umask = os.umask(0)
    try:
        assert run("backup", dest, "--db", log)[0] == 0
        assert not any(dest.with_name(dest.name + s).exists() for s in ("-wal", "-shm"))
        code, _, err = run("restore", dest, "--db", log)
    finally:
        os.umask(old_umask)
    assert code == 0, err
    kept = next(tmp_path.glob("log.before-restore-*.db"))
    for path in (dest, kept, log):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert not any(kept.with_name(kept.name + s).exists() for s in ("-wal", "-shm"))


# --- (c) restore beside a stale -wal ------------------------------------------------------


def leave_pages_in_the_wal(log: Path, events: int) -> None:
    proc = subprocess.run([sys.executable, "-c", WAL_LEAVER, str(log), str(events)],
                          env=child_env(), capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == -9, proc.stderr
    assert log.with_name(log.name + "-wal").stat().st_size > 0


def test_restore_beside_a_stale_wal_gives_the_backup_and_keeps_the_previous_log(
        tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log)[0] == 0
    leave_pages_in_the_wal(log, 25)
    previous = rows_upto(log, 10**9)  # read through the -wal: 41 + 25 events
    assert len(previous) == 66

    code, out, err = run("restore", dest, "--db", log)

    assert code == 0, err
    kept = next(tmp_path.glob("log.before-restore-*.db"))
    assert out.splitlines() == [
        f"restore: 41 events (seq 1-41), chain ok, from {dest} -> {log}",
        f"restore: the previous log, 66 events (seq 1-66), is kept as {kept}",
    ]
    assert event_rows(Database(log)) == event_rows(Database(dest))  # none of the wal's
    assert rows_upto(kept, 10**9) == previous
    assert run("verify", "--db", kept)[0] == 0
    assert run("verify", "--db", log)[0] == 0
    assert run("sessions", "--db", log, "--json")[0] == 0


def test_restore_where_only_a_lost_logs_wal_is_left_does_not_mix_it_in(
        tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log)[0] == 0
    leave_pages_in_the_wal(log, 25)
    wal = log.with_name("log.db-wal")
    log.rename(tmp_path / "lost.db")
    # The hazard itself: a plain copy beside that -wal gets its pages mixed in.
    naive = tmp_path / "naive"
    naive.mkdir()
    shutil.copy(dest, naive / "log.db")
    shutil.copy(wal, naive / "log.db-wal")
    with sqlite3.connect(naive / "log.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 66
    wal_bytes = wal.read_bytes()

    code, out, err = run("restore", dest, "--db", log)

    assert code == 0, err
    assert event_rows(Database(log)) == event_rows(Database(dest))
    aside = next(tmp_path.glob("log.db-wal.before-restore-*"))
    assert aside.read_bytes() == wal_bytes
    assert out.splitlines()[1] == (f"restore: there was no log at {log} before; its leftover "
                                   f"log.db-wal is kept as {aside}")


# --- (d) restore refusals -----------------------------------------------------------------


def test_restore_refuses_while_a_live_process_runs_a_session(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log)[0] == 0
    with child(SESSION_HOLDER, log) as holder:
        before = event_rows(Database(log))
        names = {p.name for p in tmp_path.iterdir()}
        code, out, err = run("restore", dest, "--db", log)
        assert code == 2 and out == ""
        line = one_error_line(err)
        assert f"is in use: session s-held is running in process {holder.pid}" in line
        assert event_rows(Database(log)) == before
        assert {p.name for p in tmp_path.iterdir()} - {"log.db-wal", "log.db-shm"} == (
            names - {"log.db-wal", "log.db-shm"})
    # Its process gone, the session is only a record: the restore goes ahead.
    code, out, err = run("restore", dest, "--db", log)
    assert code == 0, err
    assert event_rows(Database(log)) == event_rows(Database(dest))


def test_restore_refuses_while_another_process_has_the_log_open(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log)[0] == 0
    with child(CONNECTION_HOLDER, log):
        before = event_rows(Database(log))
        code, out, err = run("restore", dest, "--db", log)
        assert code == 2 and out == ""
        assert "cannot be locked exclusively" in one_error_line(err)
        assert event_rows(Database(log)) == before
        assert not list(tmp_path.glob("log.before-restore-*"))
        assert not list(tmp_path.glob(".*.tmp"))


def tampered_backup(tmp_path: Path, log: Path) -> Path:
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log)[0] == 0
    conn = plain_connect(dest)
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = replace(payload, '\"i\":3', '\"i\":4') "
                     "WHERE seq = 5")
    finally:
        conn.close()
    return dest


def foreign_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text)")
        conn.execute("INSERT INTO notes VALUES ('not ours')")
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("text", "is not a realworld event log (not a SQLite database"),
    ("empty", "is not a realworld event log"),
    ("foreign", "is not a realworld event log"),
    ("tampered", "hash chain broken at seq 5"),
    ("missing", "no backup at"),
])
def test_restore_refuses_what_is_not_a_sound_backup(tmp_path: Path, kind: str,
                                                    message: str) -> None:
    log = make_log(tmp_path / "log.db").path
    if kind == "tampered":
        source = tampered_backup(tmp_path, log)
    elif kind == "foreign":
        source = foreign_sqlite(tmp_path)
    else:
        source = tmp_path / f"{kind}.db"
        if kind == "text":
            source.write_text("realworld backup, honest\n")
        elif kind == "empty":
            source.touch()
    before = digests(tmp_path)
    code, out, err = run("restore", source, "--db", log)
    assert (code, out) == (2, "")
    assert message in one_error_line(err)
    assert digests(tmp_path) == before  # the log, the backup, everything as it was


# --- (e) backup refusals ------------------------------------------------------------------


@pytest.mark.parametrize(("case", "message"), [
    ("exists", "exists; pass --force to replace it"),
    ("the log", "is the event log itself"),
    ("missing dir", "does not exist"),
    ("a directory", "is a directory"),
    ("leftover wal", "SQLite would mix it into the backup"),
])
def test_backup_refuses(tmp_path: Path, case: str, message: str) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = {"exists": tmp_path / "old.db", "the log": log,
            "missing dir": tmp_path / "nowhere" / "backup.db", "a directory": tmp_path,
            "leftover wal": tmp_path / "backup.db"}[case]
    if case == "exists":
        dest.write_text("an older backup")
    if case == "leftover wal":
        dest.with_name("backup.db-wal").write_bytes(b"pages of some other database")
    before = digests(tmp_path)
    code, out, err = run("backup", dest, "--db", log)
    assert (code, out) == (2, "")
    assert message in one_error_line(err)
    assert digests(tmp_path) == before


def test_force_replaces_an_existing_backup(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    dest = tmp_path / "backup.db"
    dest.write_text("an older backup")
    code, _, err = run("backup", dest, "--db", log, "--force")
    assert code == 0, err
    assert event_rows(Database(dest)) == event_rows(Database(log))


def test_backup_of_a_broken_log_exits_1_and_keeps_the_copy(tmp_path: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    conn = plain_connect(log)
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET ts = '2000-01-01T00:00:00.000000+00:00' WHERE seq = 7")
    finally:
        conn.close()
    dest = tmp_path / "backup.db"
    code, out, err = run("backup", dest, "--db", log)
    assert code == 1 and err == ""
    assert out == (f"backup: 41 events (seq 1-41), chain broken at seq 7: hash does not match "
                   f"the event's content -> {dest}\n")
    assert event_rows(Database(dest)) == event_rows(Database(log))


def test_help_says_the_caches_are_not_in_a_backup() -> None:
    for command in ("backup", "restore"):
        result = realworld(command, "--help")
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        assert "index.db" in text and "results.db" in text
        assert "not part of a backup" in text


# --- write failures -----------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system: half of what the log to back up holds."""
    with small_filesystem(tmp_path / "small", "1m") as where:
        yield where


def big_log(path: Path) -> Path:
    db = make_log(path, n=6000)
    assert path.stat().st_size > 2 * 1024 * 1024  # twice what the tmpfs holds
    return db.path


def test_backup_to_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path,
                                                          small_fs: Path) -> None:
    log = big_log(tmp_path / "log.db")
    before = digests(tmp_path)
    result = realworld("backup", small_fs / "backup.db", "--db", log)
    assert result.returncode == 1 and result.stdout == ""
    line = one_error_line(result.stderr)
    assert line == f"realworld: error: cannot write the backup {small_fs / 'backup.db'}: disk full"
    assert list(small_fs.iterdir()) == []
    assert digests(tmp_path) == before


def test_backup_to_a_read_only_file_system_says_so(tmp_path: Path, small_fs: Path) -> None:
    log = make_log(tmp_path / "log.db").path
    remount = subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True,
                             text=True, check=False)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {remount.stderr.strip()}")
    result = realworld("backup", small_fs / "backup.db", "--db", log)
    assert result.returncode == 1
    assert one_error_line(result.stderr).endswith(": read-only file system")
    assert list(small_fs.iterdir()) == []


def test_backup_into_a_directory_without_permission_says_so(tmp_path: Path) -> None:
    with unprivileged.sandbox() as box:
        log = make_log(box.dir / "log.db").path
        closed = box.dir / "closed"
        closed.mkdir(mode=0o555)
        closed.chmod(0o555)
        if unprivileged.AS_ROOT:
            for path in box.dir.iterdir():
                os.chown(path, unprivileged.NOBODY, unprivileged.NOBODY)
        result = box.run(CLI_AS_CHILD, "backup", closed / "backup.db", "--db", log)
        assert result["code"] == 1 and result["out"] == ""
        assert one_error_line(result["err"]).endswith(": permission denied")
        assert list(closed.iterdir()) == []


def test_an_empty_log_backs_up_and_restores(tmp_path: Path) -> None:
    log = Database.open(tmp_path / "log.db", create=True).path
    dest = tmp_path / "backup.db"
    assert run("backup", dest, "--db", log) == (0, f"backup: 0 events, chain ok -> {dest}\n", "")
    target = tmp_path / "new.db"
    code, out, err = run("restore", dest, "--db", target)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"restore: 0 events, chain ok, from {dest} -> {target}"
