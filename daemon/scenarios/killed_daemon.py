"""A real ``realworld daemon`` killed with SIGKILL in its first pass, a file edited while it
is down, and the daemon started again: what the restart kept and how long it took.

The daemon is a subprocess (``python -m daemon daemon``), as systemd runs it, so the kill
is a real ``kill -9``: no handler runs, nothing is flushed. What it had checkpointed is
read back from the result cache beside the log (the security scanner's rows), and the
restarted daemon's first scanner call says how much of that it did not redo.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import daemon as daemon_package
from analyzers.common.locations import choose_cache_path
from analyzers.common.result_cache import CACHE_NAME
from daemon.log.database import Database
from daemon.log.events import Envelope, SessionEnded
from daemon.log.store import EventStore
from daemon.scenarios.faults import FAULT_DIR
from daemon.scenarios.scratch import count_files
from daemon.scenarios.settings import Settings

SCANNER = "security_scanner"
EDIT_PATH = f"{FAULT_DIR}/while_down.py"
EDIT_RULE = "B602"  # the edit's shell=True call: the restarted daemon must report it
EDIT_SOURCE = ("import subprocess\n\n\ndef realworld_while_down(cmd):\n"
               "    return subprocess.call(cmd, shell=True)\n")
STOP_TIMEOUT_S = 30.0
POLL_S = 0.02

T = TypeVar("T")


@dataclass(frozen=True)
class Restart:
    """What one kill and restart showed."""

    session_id: str | None  # the session the first daemon started
    resumed: bool  # the restarted daemon took that same session over
    sessions_started: int  # for this workspace: 1 when nothing was started afresh
    checkpoint_rows: int  # the scanner's files in the result cache at the kill
    killed_in_first_pass: bool  # the scanner had not finished its first pass yet
    files_cached: int | None  # the restarted scanner's first call: files not scanned again
    files_scanned: int | None
    time_to_resume_ms: float | None  # restart -> the resumed session's first activity
    edit_analyzed: bool  # the edit made while it was down is reported by the scanner
    ended_in_error: bool
    notes: tuple[str, ...] = ()

    @property
    def effectiveness(self) -> float | None:
        """The fraction of checkpointed files the restart did not scan again; None when
        nothing was checkpointed or the restart made no scanner call."""
        if self.files_cached is None or self.checkpoint_rows <= 0:
            return None
        return min(1.0, self.files_cached / self.checkpoint_rows)


def config_text(settings: Settings) -> str:
    """The daemon's config: no periodic pass during the run (it would blur which call
    resumed), and resource limits that never pause it (scenarios measure, they do not
    guard the machine)."""
    ignore = ", ".join(json.dumps(glob) for glob in settings.config.ignore)
    return (f"settle_ms = 100\nprobe_interval = 3600\nmonitor_interval = 5\n"
            f"analyzer_timeout = {float(settings.config.analyzer_timeout)!r}\n"
            f"ignore = [{ignore}]\n"
            "[resource_limits]\ncpu_percent_max = 100.0\nmemory_percent_max = 100.0\n"
            "disk_percent_max = 100.0\n")


def _environment() -> dict[str, str]:
    # Not ours to talk to: the caller's systemd socket and watchdog.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
    package_root = str(Path(daemon_package.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _spawn(workspace: Path, db: Path, config: Path, logs: Path, number: int
           ) -> subprocess.Popen[bytes]:
    with open(logs / f"daemon-{number}.out", "wb") as out, \
            open(logs / f"daemon-{number}.err", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", "daemon", "--config", str(config), "--db", str(db),
             "--workspace", str(workspace)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_environment())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _query(path: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Rows of a file another process writes; none while it is not there yet."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    except sqlite3.Error:  # mid-creation, or locked past the timeout: ask again later
        return []
    finally:
        conn.close()


def _poll(probe: Callable[[], T | None], timeout_s: float,
          alive: Callable[[], bool] = lambda: True) -> T | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        value = probe()
        if value is not None:
            return value
        time.sleep(POLL_S)
    return probe()


def checkpoint_rows(results: Path, workspace: Path) -> int:
    found = _query(results, "SELECT COUNT(*) FROM results AS r JOIN scopes AS s "
                            "ON s.id = r.scope_id WHERE s.workspace = ? AND s.analyzer = ? "
                            "AND r.digest != ''", (os.path.realpath(workspace), SCANNER))
    return int(found[0][0]) if found else 0


def kill_after_rows(files: int) -> int:
    """Checkpointed files to wait for before the kill: a quarter of the workspace (at most
    200, one commit's worth), so what the restart reuses is a real share of a first pass."""
    return max(1, min(200, files // 4))


def _pass_done(db: Path, session_id: str, after: int) -> bool:
    """The scanner has made a call with nothing left over: its first pass is over."""
    return any(call.get("deferred") == 0 for call in _scanner_calls(db, session_id, after))


def _kill_now(db: Path, results: Path, workspace: Path, after: int, target: int
              ) -> int | None:
    rows = checkpoint_rows(results, workspace)
    if rows >= target:
        return rows
    started = _session_of(db, workspace)
    if rows and started and _pass_done(db, started[0], after):
        return rows  # a small workspace: its pass is over before the target
    return None


def _session_of(db: Path, workspace: Path) -> list[str]:
    return [str(r[0]) for r in _query(
        db, "SELECT session_id FROM events WHERE type = 'session_started' AND "
            "json_extract(payload, '$.project_path') = ? ORDER BY seq", (str(workspace),))]


def _scanner_calls(db: Path, session_id: str, after_seq: int) -> list[dict[str, Any]]:
    found = _query(db, "SELECT json_extract(payload, '$.result_data') FROM events WHERE "
                       "session_id = ? AND type = 'activity_recorded' AND seq > ? AND "
                       "json_extract(payload, '$.capability') = ? ORDER BY seq",
                   (session_id, after_seq, SCANNER))
    calls = []
    for (data,) in found:
        with contextlib.suppress(ValueError, TypeError):
            value = json.loads(data)
            if isinstance(value, dict):
                calls.append(value)
    return calls


def _last_seq(db: Path) -> int:
    found = _query(db, "SELECT COALESCE(MAX(seq), 0) FROM events")
    return int(found[0][0]) if found else 0


def kill_and_restart(settings: Settings, workspace: Path, timeout_s: float) -> Restart:
    """Start the daemon on ``workspace``, SIGKILL it once the scanner has checkpointed
    something, edit a file, start it again and watch it resume."""
    db = settings.db_path
    logs = workspace.parent
    config = logs / f"{workspace.name}.toml"
    config.write_text(config_text(settings))
    results = choose_cache_path(workspace, CACHE_NAME, log_path=db)
    notes: list[str] = []
    before = _last_seq(db)

    first = _spawn(workspace, db, config, logs, 1)
    try:
        alive = lambda: first.poll() is None  # noqa: E731
        target = kill_after_rows(count_files(workspace))
        rows = _poll(lambda: _kill_now(db, results, workspace, before, target), timeout_s,
                     alive)
        started = _session_of(db, workspace)
        session_id = started[0] if started else None
        in_first_pass = session_id is not None and not _pass_done(db, session_id, before)
        first.kill()  # SIGKILL: no handler, no flush
        first.wait()
    finally:
        _stop(first)
    if rows is None:
        notes.append("the first daemon checkpointed nothing before it was killed "
                     f"(exit {first.returncode}; see {logs}/daemon-1.err)")
    kept = checkpoint_rows(results, workspace)
    if session_id is None:
        return Restart(None, False, 0, kept, in_first_pass, None, None, None, False,
                       False, tuple(notes))

    (workspace / EDIT_PATH).parent.mkdir(parents=True, exist_ok=True)
    (workspace / EDIT_PATH).write_text(EDIT_SOURCE)
    killed_at = _last_seq(db)
    restarted = time.monotonic()
    second = _spawn(workspace, db, config, logs, 2)
    try:
        alive = lambda: second.poll() is None  # noqa: E731
        first_activity = _poll(lambda: _query(
            db, "SELECT seq FROM events WHERE session_id = ? AND seq > ? AND "
                "type = 'activity_recorded' LIMIT 1", (session_id, killed_at)) or None,
            timeout_s, alive)
        time_to_resume_ms = ((time.monotonic() - restarted) * 1000.0
                             if first_activity is not None else None)
        calls = _poll(lambda: _scanner_calls(db, session_id, killed_at) or None, timeout_s,
                      alive) or []
        edited = _poll(lambda: _query(
            db, "SELECT 1 FROM events WHERE session_id = ? AND seq > ? AND "
                "type = 'finding_detected' AND json_extract(payload, '$.path') = ? AND "
                "json_extract(payload, '$.rule') = ?",
            (session_id, killed_at, EDIT_PATH, EDIT_RULE)) or None, timeout_s, alive)
        resumed = bool(_query(db, "SELECT 1 FROM events WHERE session_id = ? AND seq > ? AND "
                                  "type = 'session_resumed'", (session_id, killed_at)))
        crashed = second.poll()
    finally:
        _stop(second)
    if crashed is not None:
        notes.append(f"the restarted daemon exited by itself (status {crashed}; see "
                     f"{logs}/daemon-2.err)")
    ended = _query(db, "SELECT json_extract(payload, '$.status') FROM events WHERE "
                       "session_id = ? AND type = 'session_ended'", (session_id,))
    if not ended:
        # Suspended by the SIGTERM, the session would wait for a daemon on a copy that is
        # about to be deleted: end it, as the daemon would on a removed workspace.
        with EventStore(Database.open(db)) as store:
            store.append([Envelope(SessionEnded(session_id, "stopped",
                                                "error-recovery scenario finished"))])
    first_call = calls[0] if calls else {}
    return Restart(
        session_id=session_id, resumed=resumed,
        sessions_started=len(_session_of(db, workspace)), checkpoint_rows=kept,
        killed_in_first_pass=in_first_pass,
        files_cached=_int(first_call.get("files_cached")),
        files_scanned=_int(first_call.get("files_scanned")),
        time_to_resume_ms=time_to_resume_ms, edit_analyzed=edited is not None,
        ended_in_error=any(row[0] == "error" for row in ended), notes=tuple(notes))


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None
