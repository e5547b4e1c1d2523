"""``realworld archive`` as a user runs it: real processes, real files, one line on stderr.

Bad input (an unparsable or future cutoff, an archive directory that is not ours, a
missing or changed segment, a disk that fills during the archive) is one clear line and
exit 2 (1 for a check that failed), with the log unchanged and verifiable. A disk full is
a small tmpfs mounted for the test (as root; skipped elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from daemon.log.database import Database
from daemon.log.segments import archive_dir

from conftest import REPO_ROOT, event_rows, plain_connect, small_filesystem, snapshot
from logbuilders import history_log

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def realworld(*argv: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon", *map(str, argv)],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
                          check=False)


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "log.db"
    db = history_log(path, days=40, events=6_000, now=NOW)
    conn = db.connect()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture
def log(history: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(history, tmp_path / "log.db"))


def state(path: Path) -> tuple[object, ...]:
    db = Database.open(path)
    return event_rows(db), snapshot(db)


def test_archive_then_verify_then_restore(log: Path, tmp_path: Path) -> None:
    done = realworld("archive", "--older-than", "20d", "--db", log)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    first, second = done.stdout.splitlines()[:2]
    assert first.startswith("archive: ") and "sessions that ended before" in first
    assert str(archive_dir(log)) in first
    assert second.startswith("archive: the log keeps ")

    checked = realworld("verify", "--db", log)
    assert checked.returncode == 0, checked.stdout
    assert "from seq" in checked.stdout and "archive: ok (1 segment(s)" in checked.stdout

    restored = realworld("archive", "--restore", "--db", log)
    assert restored.returncode == 0, restored.stderr
    history = log.with_name("log.history.db")
    assert f"-> {history}" in restored.stdout
    assert realworld("verify", "--db", history).returncode == 0
    again = realworld("archive", "--restore", "--db", log)
    assert again.returncode == 2
    assert one_line(again.stderr) == (f"realworld: error: {history} exists; use --force to "
                                      f"replace it")
    assert realworld("archive", "--restore", "--force", "--db", log).returncode == 0


def test_the_report_of_an_archived_session_says_where_its_detail_is(log: Path) -> None:
    conn = plain_connect(log)
    try:
        oldest, score, total = conn.execute(
            "SELECT session_id, overall_score, total_activities FROM test_sessions "
            "ORDER BY start_time LIMIT 1").fetchone()
    finally:
        conn.close()
    assert realworld("archive", "--older-than", "20d", "--db", log).returncode == 0
    text = realworld("report", oldest, "--db", log)
    assert text.returncode == 0, text.stderr
    assert "Archived: its " in text.stdout and "realworld archive --restore" in text.stdout
    assert f"Total Activities: {total}" in text.stdout
    assert "recorded no activities" not in text.stdout
    as_json = json.loads(realworld("report", oldest, "--format", "json", "--db", log).stdout)
    assert as_json["archived"]["total_activities"] == total
    assert as_json["archived"]["segment"].startswith("seg-")
    assert as_json["session"]["overall_score"] == score  # as recorded, not re-scored
    html = realworld("report", oldest, "--format", "html", "--db", log).stdout
    assert 'id="archived"' in html


def test_nothing_to_archive_says_so_and_changes_nothing(log: Path) -> None:
    before = state(log)
    done = realworld("archive", "--older-than", "60d", "--db", log)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("archive: nothing to archive")
    assert state(log) == before


def test_retention_from_the_config_file(log: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('retention = "20d"\n')
    done = realworld("archive", "--db", log, "--config", config)
    assert done.returncode == 0, done.stderr
    assert "sessions that ended before" in done.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (("--older-than", "soon"), "--older-than: invalid period 'soon': use a number and a unit"),
    (("--older-than", "30"), "--older-than: invalid period '30': use a number and a unit"),
    (("--older-than=-5d",), "--older-than -5d: that cutoff is in the future"),
    (("--older-than", "0d"), "--older-than: invalid period '0d': it must be longer than zero"),
    (("--before", "2999-01-01"), "is in the future"),
    (("--before", "yesterday"), "--before: invalid time 'yesterday'"),
    ((), "say how old: --older-than AGE"),
    (("--older-than", "30d", "--output", "x.db"), "--output and --force go with --restore"),
])
def test_bad_cutoffs_are_one_line_and_exit_2(log: Path, argv: tuple[str, ...],
                                             message: str) -> None:
    before = state(log)
    done = realworld("archive", *argv, "--db", log)
    assert done.returncode == 2, done.stderr
    assert message in one_line(done.stderr)
    assert done.stdout == ""
    assert state(log) == before


def test_an_archive_directory_that_is_not_ours_is_refused(log: Path) -> None:
    where = archive_dir(log)
    where.mkdir()
    (where / "notes.txt").write_text("mine")
    before = state(log)
    done = realworld("archive", "--older-than", "20d", "--db", log)
    assert done.returncode == 2
    assert one_line(done.stderr) == (f"realworld: error: {where} is not a realworld archive "
                                     f"directory (no REALWORLD-ARCHIVE in it); move it away "
                                     f"or use another --db")
    assert state(log) == before
    assert realworld("verify", "--db", log).returncode == 0


def test_a_changed_segment_fails_verify_and_restore_naming_it(log: Path) -> None:
    assert realworld("archive", "--older-than", "20d", "--db", log).returncode == 0
    (segment,) = archive_dir(log).glob("seg-*.jsonl.zst")
    data = bytearray(segment.read_bytes())
    data[100] ^= 0xFF
    segment.write_bytes(bytes(data))
    checked = realworld("verify", "--db", log)
    assert checked.returncode == 1
    assert f"archive: FAILED: segment {segment.name}: its SHA-256 is" in checked.stdout
    restored = realworld("archive", "--restore", "--db", log)
    assert restored.returncode == 2
    assert f"segment {segment.name}: its SHA-256" in one_line(restored.stderr)


def test_a_missing_segment_is_a_note_not_a_failure(log: Path) -> None:
    assert realworld("archive", "--older-than", "20d", "--db", log).returncode == 0
    (segment,) = archive_dir(log).glob("seg-*.jsonl.zst")
    segment.unlink()
    checked = realworld("verify", "--db", log)
    assert checked.returncode == 0, checked.stdout
    assert f"note: 1 segment(s) missing ({segment.name}" in checked.stdout


def test_a_broken_chain_is_not_archived(log: Path) -> None:
    conn = plain_connect(log)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET payload = replace(payload, 'probe', 'prob3') WHERE seq = 5")
    conn.close()
    before = state(log)
    done = realworld("archive", "--older-than", "20d", "--db", log)
    assert done.returncode == 1
    assert one_line(done.stderr).startswith("realworld: error: the log's chain is broken at seq 5")
    assert state(log) == before
    assert not list(archive_dir(log).glob("seg-*"))


def test_the_specs_delete_is_refused_from_a_sqlite_shell(log: Path) -> None:
    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("no sqlite3 command-line shell")
    before = state(log)
    done = subprocess.run([shell, str(log),
                           "DELETE FROM test_sessions WHERE created_at < datetime('now', "
                           "'-30 days');"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode != 0
    assert "realworld archive --older-than" in done.stderr
    assert state(log) == before


# --- a disk that fills during the archive ----------------------------------------------------


def _fill(where: Path, leave: int) -> None:
    """Take all the space of ``where``'s file system but ``leave`` bytes."""
    info = os.statvfs(where)
    free = info.f_bavail * info.f_frsize
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, max(1, free - leave))
    finally:
        os.close(fd)


@pytest.mark.parametrize("where_it_fills", ["the segment", "the transaction"])
def test_a_disk_that_fills_during_the_archive_leaves_the_log_as_it_was(
        history: Path, tmp_path: Path, where_it_fills: str) -> None:
    # How big the segment is, from the same archive on a roomy disk.
    trial = Path(shutil.copy(history, tmp_path / "trial.db"))
    assert realworld("archive", "--older-than", "20d", "--db", trial).returncode == 0
    (segment,) = archive_dir(trial).glob("seg-*.jsonl.zst")
    size = segment.stat().st_size
    with small_filesystem(tmp_path / "small", "64m") as small:
        log = Path(shutil.copy(history, small / "log.db"))
        before = state(log)
        _fill(small, leave=size // 4 if where_it_fills == "the segment" else size + 256 * 1024)
        done = realworld("archive", "--older-than", "20d", "--db", log)
        assert done.returncode == 2, (done.stdout, done.stderr)
        line = one_line(done.stderr)
        assert line.startswith("realworld: error: disk full: nothing was archived"), line
        assert state(log) == before
        assert not list(archive_dir(log).glob("seg-*"))  # nothing left behind
        assert not list(archive_dir(log).glob(".seg-*"))
        checked = realworld("verify", "--db", log)
        assert checked.returncode == 0, checked.stdout
        (small / "filler").unlink()
        assert realworld("archive", "--older-than", "20d", "--db", log).returncode == 0
        assert realworld("verify", "--db", log).returncode == 0
