"""``error-recovery``: real faults injected into a copy of the project, and what came back.

Four kinds of fault, each judged from the log (events and activities), not assumed:

1. **An analyzer that raises** on a file (:class:`~daemon.scenarios.faults.FaultInjector`,
   run beside the real analyzers): once in a file present at the start (the full pass),
   once in a file written during the session (a change batch). Detected when an
   ``error_recovery`` step names the file, quarantined (``file_quarantined``), recovered
   when, after an edit takes the fault out, the file is released (``file_released``) and
   analyzed without being quarantined again.
2. **Corrupt files** (invalid UTF-8, a binary blob named ``.py``, truncated Python, a
   chain nested past the parser's recursion limit): every real analyzer must record a
   successful call after them, none may quarantine them, and the session must go on.
3. **A killed worker**: one of the security scanner's worker processes is SIGKILLed while
   it scans a slow file; the runner must retry the file and the scan complete (its
   planted ``shell=True`` finding reported).
4. **A killed daemon**: ``realworld daemon`` is SIGKILLed in its first pass, a file is
   edited while it is down, it is started again (:mod:`daemon.scenarios.killed_daemon`):
   the same session resumes, the edit is analyzed, and the checkpointed files are not
   scanned again (checkpoint effectiveness).

``--duration`` bounds the first pass (faults go into a session that has analyzed every
file; ``analyzer_backlog`` says what was left if it ran out) and then how long each
fault is given to be detected and recovered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from analyzers.base import Analyzer
from daemon.app.tester import AnalyzerFactory, session_analyzers
from daemon.read.analysis.stats import percentile
from daemon.scenarios import harness
from daemon.scenarios.faults import (
    FAULT_DIR,
    INJECTOR_NAME,
    CorruptFile,
    FaultInjector,
    corrupt_files,
    kill_busy_worker,
    poison_source,
    slow_scan_source,
    worker_cpu,
)
from daemon.scenarios.killed_daemon import Restart, kill_and_restart
from daemon.scenarios.scratch import scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Outcome, Unmeasured, metrics_of

NAME = "error-recovery"
REAL_CAPABILITIES = ("code_indexer", "security_scanner", "pattern_probe")
RECOVERY = "error_recovery"
POLL_S = 0.1
SLOW_FUNCTIONS = 5000  # about 1.5 s of bandit: long enough to be caught in flight
KILL_ATTEMPTS = 3
SLOW_PATH = f"{FAULT_DIR}/slow_scan.py"
SLOW_RULE = "B602"
POISONS = (f"{FAULT_DIR}/poison_at_start.py", f"{FAULT_DIR}/poison_written.py")

BARS = (
    Bar("detection_rate", "min", 1.0, "every injected fault shows in the log"),
    Bar("recovery_rate", "min", 1.0, "every injected fault is recovered from"),
    Bar("time_to_recover_p95_ms", "max", 10_000.0,
        "a recovery step takes no longer than one more scan deadline (10 s per file)"),
    Bar("corrupt_files_handled", "min", 1.0,
        "corrupt files cost the real analyzers neither a crash nor a quarantine"),
    Bar("checkpoint_effectiveness", "min", 0.9,
        "a restart does not scan again 90 % of the files checkpointed before the kill"),
    Bar("time_to_resume_ms", "max", 30_000.0,
        "a restarted daemon records its first call within 30 s"),
    Bar("session_resumed", "min", 1.0, "the restarted daemon takes the same session over"),
    Bar("edit_while_down_analyzed", "min", 1.0, "a file edited while down is analyzed"),
    Bar("sessions_survived", "min", 1.0, "no session ended in error"),
    harness.BACKLOG_BAR,
)


@dataclass(frozen=True)
class Fault:
    name: str
    detected: bool
    recovered: bool
    detail: str = ""


@dataclass(frozen=True)
class Logged:
    seq: int
    type: str
    payload: Mapping[str, Any]

    @property
    def data(self) -> Mapping[str, Any]:
        value = self.payload.get("result_data")
        return value if isinstance(value, Mapping) else {}

    def is_recovery(self, analyzer: str, path: str) -> bool:
        return (self.type == "activity_recorded" and self.payload.get("capability") == RECOVERY
                and self.data.get("analyzer") == analyzer and path in (self.data.get("paths")
                                                                      or ()))

    def is_event(self, kind: str, capability: str, path: str) -> bool:
        return (self.type == kind and self.payload.get("capability") == capability
                and self.payload.get("path") == path)


# --- pure judgement over what the log holds --------------------------------------------

def poison_fault(events: Sequence[Logged], path: str, fixed_at: int) -> Fault:
    """An analyzer exception on ``path``, fixed by an edit logged after ``fixed_at``."""
    detected = any(e.is_recovery(INJECTOR_NAME, path) for e in events)
    quarantined = any(e.is_event("file_quarantined", INJECTOR_NAME, path) and e.seq <= fixed_at
                      for e in events)
    released = [e.seq for e in events if e.seq > fixed_at
                and e.is_event("file_released", INJECTOR_NAME, path)]
    again = any(e.seq > fixed_at and e.is_event("file_quarantined", INJECTOR_NAME, path)
                for e in events)
    analyzed = bool(released) and any(
        e.seq > released[0] and e.type == "activity_recorded"
        and e.payload.get("capability") == INJECTOR_NAME and e.payload.get("success")
        and path in (e.data.get("analyzed") or ()) for e in events)
    detail = ("quarantined, " if quarantined else "not quarantined, ") + (
        "quarantined again after the fix" if again else
        "released and analyzed after the fix" if analyzed else
        "released after the fix, not analyzed yet" if released else "not released")
    return Fault(f"analyzer exception on {path}", detected,
                 quarantined and analyzed and not again, detail)


def poison_settled(events: Sequence[Logged], path: str, fixed_at: int) -> bool:
    """Whether waiting longer could change ``poison_fault``'s answer."""
    released = any(e.seq > fixed_at and e.is_event("file_released", INJECTOR_NAME, path)
                   for e in events)
    fault = poison_fault(events, path, fixed_at)
    return released and (fault.recovered or "again" in fault.detail)


def quarantined(events: Sequence[Logged], capability: str, path: str) -> bool:
    return any(e.is_event("file_quarantined", capability, path) for e in events)


def corrupt_handled(events: Sequence[Logged], path: str) -> bool:
    """Every real analyzer recorded a successful call after ``path`` last changed, and
    none quarantined it."""
    changed = [e.seq for e in events if e.type == "file_changed" and e.payload.get("path") == path]
    if not changed:
        return False
    if any(quarantined(events, capability, path) for capability in REAL_CAPABILITIES):
        return False
    return all(any(e.seq > changed[-1] and e.type == "activity_recorded"
                   and e.payload.get("capability") == capability and e.payload.get("success")
                   for e in events) for capability in REAL_CAPABILITIES)


@dataclass(frozen=True)
class WorkerKill:
    crashed: bool  # the scanner reported the file as crashed: the kill hit it in flight
    retried: bool  # an error_recovery step names the file
    recovered: bool  # ... and every such step recovered
    completed: bool  # the file's planted finding was reported after the kill

    @property
    def settled(self) -> bool:
        """Nothing more to wait for: the scan completed, and a crash has its recovery."""
        return self.completed and (self.retried or not self.crashed)


def worker_kill(events: Sequence[Logged], after: int) -> WorkerKill:
    later = [e for e in events if e.seq > after]
    crashed = any(e.type == "activity_recorded" and e.payload.get("capability") ==
                  "security_scanner" and any(f.get("path") == SLOW_PATH for f in
                                             e.data.get("error_files") or ()
                                             if isinstance(f, Mapping)) for e in later)
    steps = [e for e in later if e.is_recovery("security_scanner", SLOW_PATH)]
    completed = any(e.type == "finding_detected" and e.payload.get("path") == SLOW_PATH
                    and e.payload.get("rule") == SLOW_RULE for e in later)
    return WorkerKill(crashed, bool(steps),
                      bool(steps) and all(e.data.get("recovered") for e in steps), completed)


def recovery_times(events: Sequence[Logged]) -> list[float]:
    """``time_to_recover_ms`` of every retry, isolation and quarantine (a release is the
    end of a recovery, not one)."""
    times = []
    for e in events:
        if e.type == "activity_recorded" and e.payload.get("capability") == RECOVERY \
                and e.data.get("action") != "release":
            value = e.data.get("time_to_recover_ms")
            if isinstance(value, (int, float)):
                times.append(float(value))
    return times


def steps_recovered(events: Sequence[Logged]) -> tuple[int, int]:
    steps = [e for e in events if e.type == "activity_recorded"
             and e.payload.get("capability") == RECOVERY]
    return sum(1 for e in steps if e.payload.get("success")), len(steps)


def _ratio(part: float, whole: int, why: str) -> float | Unmeasured:
    return part / whole if whole else Unmeasured(why)


def summarize(faults: Sequence[Fault], times: Sequence[float], steps: tuple[int, int],
              corrupt: Sequence[bool], restart: Restart | None, survived: Sequence[bool]
              ) -> dict[str, tuple[float | Unmeasured, str]]:
    injected = len(faults)
    no_steps = Unmeasured("no recovery step was recorded")
    values: dict[str, tuple[float | Unmeasured, str]] = {
        "faults_injected": (injected, ""),
        "detection_rate": (_ratio(sum(f.detected for f in faults), injected,
                                  "no fault was injected"), "ratio"),
        "recovery_rate": (_ratio(sum(f.recovered for f in faults), injected,
                                 "no fault was injected"), "ratio"),
        "recovery_steps": (steps[1], ""),
        "recovery_steps_succeeded": (_ratio(steps[0], steps[1], "no recovery step was "
                                                                "recorded"), "ratio"),
        "time_to_recover_p95_ms": (percentile(list(times), 95) if times else no_steps, "ms"),
        "time_to_recover_max_ms": (max(times) if times else no_steps, "ms"),
        "corrupt_files_handled": (_ratio(sum(corrupt), len(corrupt), "no corrupt file was "
                                                                     "written"), "ratio"),
    }
    if restart is not None:
        values |= _restart_values(restart)
    values["sessions_survived"] = (_ratio(sum(survived), len(survived), "no session ran"),
                                   "ratio")
    return values


def _restart_values(restart: Restart) -> dict[str, tuple[float | Unmeasured, str]]:
    no_call = Unmeasured("the restarted daemon made no scanner call")
    effectiveness: float | Unmeasured = restart.effectiveness if restart.effectiveness \
        is not None else (Unmeasured("nothing was checkpointed before the kill")
                          if restart.checkpoint_rows <= 0 else no_call)
    return {
        "checkpoint_rows": (restart.checkpoint_rows, "files"),
        "files_rescanned_after_restart": (
            no_call if restart.files_scanned is None else restart.files_scanned, "files"),
        "checkpoint_effectiveness": (effectiveness, "ratio"),
        "time_to_resume_ms": (Unmeasured("the restarted daemon recorded no activity")
                              if restart.time_to_resume_ms is None
                              else restart.time_to_resume_ms, "ms"),
        "session_resumed": (float(restart.resumed and restart.sessions_started == 1), ""),
        "edit_while_down_analyzed": (float(restart.edit_analyzed), ""),
    }


def restart_fault(restart: Restart) -> Fault:
    return Fault("daemon killed (SIGKILL) in its first pass", restart.resumed,
                 restart.resumed and restart.edit_analyzed
                 and restart.effectiveness is not None,
                 f"{restart.checkpoint_rows} files checkpointed, "
                 f"{restart.files_cached} reused after the restart")


# --- IO: the run ------------------------------------------------------------------------

def logged(db_path: Path, session_id: str, after: int = 0) -> list[Logged]:
    found = harness.rows(db_path, "SELECT seq, type, payload FROM events WHERE session_id = ? "
                                  "AND seq > ? ORDER BY seq", (session_id, after))
    out = []
    for row in found:
        try:
            payload = json.loads(str(row["payload"]))
        except ValueError:
            continue
        out.append(Logged(int(row["seq"]), str(row["type"]),
                          payload if isinstance(payload, dict) else {}))
    return out


def _last_seq(db_path: Path) -> int:
    return int(harness.scalar(db_path, "SELECT COALESCE(MAX(seq), 0) FROM events"))


def with_injector(settings: Settings, workspace: Path, injector: Analyzer) -> AnalyzerFactory:
    """Every real analyzer, built as the tester builds its own (the same ignore rules and
    caches beside the log), and the injector beside them."""
    def analyzers() -> Sequence[Analyzer]:
        return [*session_analyzers(workspace, settings.db_path, settings.config), injector]
    return analyzers


def _write(root: Path, path: str, data: bytes | str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    target.write_bytes(data)


@dataclass(frozen=True)
class InProcess:
    session_id: str
    faults: tuple[Fault, ...]
    corrupt: tuple[bool, ...]
    survived: bool
    backlog: harness.Backlog  # what the first pass had left when the faults began
    notes: tuple[str, ...]


def _until(tester_catch_up: Callable[[], object], ready: Callable[[], bool],
           timeout_s: float) -> bool:
    def probe() -> bool:
        try:
            tester_catch_up()
            return ready()
        except sqlite3.Error:
            return False
    return harness.wait_until(probe, timeout_s, POLL_S)


def _in_process_faults(settings: Settings, workspace: Path, wait_s: float,
                       stubborn: bool) -> InProcess:
    db = settings.db_path
    _write(workspace, POISONS[0], poison_source("poison_at_start", poisoned=True))
    tester = harness.open_tester(settings, monitor_interval=5.0,
                                 analyzers=with_injector(settings, workspace, FaultInjector(
                                     stubborn=stubborn)))
    notes: list[str] = []
    faults: list[Fault] = []
    try:
        session_id = tester.start_test_session(workspace, 0, mode="continuous")
        # Faults go into a settled session: its first pass over (or --duration spent).
        left = harness.drained(tester, session_id, harness.Deadline.after(wait_s))

        def seen() -> list[Logged]:
            return logged(db, session_id)

        # 1. An analyzer exception, at the start and in a file written now.
        _until(tester.catch_up, lambda: quarantined(seen(), INJECTOR_NAME, POISONS[0]), wait_s)
        _write(workspace, POISONS[1], poison_source("poison_written", poisoned=True))
        _until(tester.catch_up, lambda: quarantined(seen(), INJECTOR_NAME, POISONS[1]), wait_s)

        # 2. Corrupt files.
        corrupt = corrupt_files(settings.seed)
        for item in corrupt:
            _write(workspace, item.path, item.data)
        _until(tester.catch_up,
               lambda: all(corrupt_handled(seen(), c.path) for c in corrupt), wait_s)
        handled = _corrupt_outcome(seen(), corrupt, notes)

        # 1 (cont.) The fix: the fault is taken out of both files.
        tester.catch_up()
        fixed_at = _last_seq(db)
        for number, path in enumerate(POISONS):
            _write(workspace, path, poison_source(f"poison_{number}", poisoned=False))
        _until(tester.catch_up,
               lambda: all(poison_settled(seen(), p, fixed_at) for p in POISONS), wait_s)
        events = seen()
        faults += [poison_fault(events, path, fixed_at) for path in POISONS]

        # 3. A scan worker killed with the slow file in flight.
        faults.append(_kill_a_worker(tester.catch_up, workspace, db, session_id, wait_s,
                                     notes))
        tester.catch_up()
        status = harness.rows(db, "SELECT status FROM test_sessions WHERE session_id = ?",
                              (session_id,))
        survived = bool(status) and status[0]["status"] == "running"
        tester.stop_session(session_id)
    finally:
        tester.close()
    return InProcess(session_id, tuple(faults), handled, survived, left,
                     (*harness.backlog_note(left), *notes))


def _corrupt_outcome(events: Sequence[Logged], corrupt: Sequence[CorruptFile],
                     notes: list[str]) -> tuple[bool, ...]:
    handled = tuple(corrupt_handled(events, c.path) for c in corrupt)
    for item, ok in zip(corrupt, handled, strict=True):
        if not ok:
            caps = [c for c in REAL_CAPABILITIES if quarantined(events, c, item.path)]
            notes.append(f"corrupt file not handled: {item.path} ({item.what})"
                         + (f", quarantined by {', '.join(caps)}" if caps else ""))
    return handled


def _kill_a_worker(catch_up: Callable[[], object], workspace: Path, db: Path,
                   session_id: str, wait_s: float, notes: list[str]) -> Fault:
    name = "scan worker killed (SIGKILL) with a file in flight"
    for attempt in range(1, KILL_ATTEMPTS + 1):
        catch_up()
        mark = _last_seq(db)
        before = worker_cpu()
        # New bytes each attempt: the same bytes, crashed on twice, would be quarantined.
        _write(workspace, SLOW_PATH, slow_scan_source(SLOW_FUNCTIONS, attempt))
        pid = kill_busy_worker(before, wait_s)
        if pid is None:
            notes.append(f"worker kill {attempt}: no scan worker got busy")
            continue
        _until(catch_up, partial(_kill_settled, db, session_id, mark), wait_s)
        kill = worker_kill(logged(db, session_id, mark), mark)
        if kill.crashed or kill.retried:
            return Fault(name, True, kill.recovered and kill.completed,
                         f"worker {pid} killed; {'retried and ' if kill.recovered else ''}"
                         f"scan {'completed' if kill.completed else 'not completed'}")
        notes.append(f"worker kill {attempt}: worker {pid} had finished the file already")
    return Fault(name, False, False, "no kill landed on a file in flight")


def _kill_settled(db: Path, session_id: str, mark: int) -> bool:
    return worker_kill(logged(db, session_id, mark), mark).settled


def run(settings: Settings, *, stubborn: bool = False, kill_daemon: bool = True) -> Outcome:
    """The scenario; ``stubborn`` makes the injector fail on the fixed files too (a fault
    an edit cannot cure), ``kill_daemon=False`` leaves out the daemon restart."""
    wait_s = max(5.0, settings.duration_s)
    workspace = scratch_copy(settings.project, settings.workdir / "error_recovery").resolve()
    inside = _in_process_faults(settings, workspace, wait_s, stubborn)
    events = logged(settings.db_path, inside.session_id)
    faults = list(inside.faults)
    notes = [f"workspace: a copy at {workspace}", *inside.notes]
    survived = [inside.survived]
    restart: Restart | None = None
    sessions = [inside.session_id]
    if kill_daemon:
        copy = scratch_copy(settings.project, settings.workdir / "error_recovery_daemon")
        restart = kill_and_restart(settings, copy.resolve(), wait_s)
        faults.append(restart_fault(restart))
        survived.append(not restart.ended_in_error)
        notes += restart.notes
        if restart.session_id is not None:
            sessions.append(restart.session_id)
            events += logged(settings.db_path, restart.session_id)
        if not restart.killed_in_first_pass:
            notes.append("the daemon had finished its first scanner call when it was killed")
    notes += [f"{f.name}: {'detected' if f.detected else 'NOT detected'}, "
              f"{'recovered' if f.recovered else 'NOT recovered'} ({f.detail})" for f in faults]
    values = summarize(faults, recovery_times(events), steps_recovered(events), inside.corrupt,
                       restart, survived)
    values[harness.BACKLOG] = (inside.backlog.files, "files")
    metrics = metrics_of(values)
    harness.record_metrics(settings.db_path, inside.session_id, NAME, metrics)
    return Outcome(metrics, tuple(notes), tuple(sessions))
