"""``RealWorldTester``: the spec's Python API over sessions, the log and its projections.

Thread-safe; one instance runs any number of concurrent sessions on different
projects. Sessions run in the background and end by themselves at their
duration; every read catches the projections up first.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from analyzers.base import Analyzer
from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.percentiles import percentile
from analyzers.registry import discover
from daemon.app.archive import archive
from daemon.app.liveness import process_alive
from daemon.app.session import LARGEST_ANALYZER_CAP, Session, SessionSpec
from daemon.app.shapes import Analysis, CapabilityActivity, CapabilityTimes, Metrics, Monitor
from daemon.config import (
    ENV_DURATION,
    ENV_INTERVAL,
    Config,
    ConfigError,
    ResourceLimits,
    load_config,
    resolve_db_path,
    resolve_fleet_url,
)
from daemon.durations import MAX_MINUTES, parse_minutes, parse_seconds
from daemon.log.database import Database, Durability
from daemon.log.events import ActivityRecorded, Envelope, SessionEnded, utc_now
from daemon.log.store import EventStore
from daemon.log.write_errors import describe_write_error
from daemon.log.writer import EventWriter
from daemon.logsetup import configure_logging
from daemon.projections.projector import Projector
from daemon.read.queries import (
    capability_rows,
    recent_activities,
    response_times,
    resumable_sessions,
    running_processes,
    session_rows,
    started_session_ids,
)
from daemon.read.reporting import (
    UnknownSession,
    analysis_dict,
    judgement_events,
    load_analysis,
    render_report,
)
from daemon.run.measure import system_cpu
from daemon.run.sampler import ResourceSampler
from daemon.watch.ignore import IgnoreRules

log = structlog.get_logger("realworld.tester")

CATCH_UP_SECONDS = 2.0
#: How often retention looks for sessions to archive: an archive with nothing to do costs
#: one query over the log's sessions. A short retention is looked at more often (a
#: twenty-fourth of it, not under a second), so that nothing outstays it by much.
RETENTION_EVERY_S = 3600.0
RETENTION_EVERY_MIN_S = 1.0
#: The first look comes this long after it is scheduled (at most), not in the middle of a start.
RETENTION_FIRST_AFTER_S = 60.0


def retention_every(retention: timedelta) -> float:
    """Seconds between two retention passes for a ``retention`` period."""
    return min(RETENTION_EVERY_S,
               max(RETENTION_EVERY_MIN_S, retention.total_seconds() / 24))
AnalyzerFactory = Callable[[], Sequence[Analyzer]]


def default_analyzers(options: Mapping[str, object] | None = None) -> Sequence[Analyzer]:
    """Every discovered analyzer, built with the session's ``options`` it asks for."""
    found = discover(options=options)
    for error in found.errors:
        log.warning("analyzer_not_loaded", name=error.name, target=error.target,
                    error=error.error)
    return found.analyzers


def _env_number(name: str, parse: Callable[[str], float], default: float) -> float:
    """The spec's ``REALWORLD_TESTING_*`` variables, honoured by the API as by the CLI."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"${name}: {exc}") from None


def session_analyzers(project: Path, db_path: Path, config: Config) -> list[Analyzer]:
    """The analyzers a session on ``project`` runs: every one installed, with the same
    ignore rules as the session's watcher and their caches beside the log (never inside
    the workspace). For a caller that adds its own analyzers beside them."""
    rules = IgnoreRules.load(project, database_paths=(db_path,), extra_globs=config.ignore)
    options: dict[str, object] = {"log_path": db_path, "ignore": rules.is_ignored,
                                  "file_timeout_s": config.file_timeout}
    if config.max_file_bytes is not None:
        options["max_file_bytes"] = config.max_file_bytes
    if config.code_assist_files_per_pass is not None:
        options["files_per_pass"] = config.code_assist_files_per_pass
    if config.code_assist_positions_per_file is not None:
        options["positions_per_file"] = config.code_assist_positions_per_file
    if config.security_per_path_skips is not None:
        options["per_path_skips"] = {pattern: list(rules)
                                     for pattern, rules in config.security_per_path_skips}
    return list(default_analyzers(options))


class RealWorldTester:
    def __init__(self, db_path: str | Path | None = None, *, config: Config | None = None,
                 analyzers: AnalyzerFactory | None = None, settle_seconds: float | None = None,
                 call_timeout: float | None = None) -> None:
        # The system CPU gauge's first span (100 ms) begins now, beside the set-up below,
        # so the first analyzer call of a session waits less of it for its cpu_before.
        system_cpu()
        if not structlog.is_configured():
            # A library should not chatter on stdout; the CLI configures its own.
            configure_logging(level="warning", stream=sys.stderr)
        self.config = config if config is not None else load_config()
        durability: Durability = "full" if self.config.durability == "full" else "normal"
        path = resolve_db_path(None if db_path is None else str(db_path), self.config)
        self.db = Database.open(path, durability=durability, create=True)
        self.db_path = str(self.db.path)
        self.resource_limits: dict[str, float | int] = self.config.resource_limits.as_dict()
        self.monitor_interval = _env_number(ENV_INTERVAL, parse_seconds,
                                            self.config.monitor_interval)
        self._analyzer_factory = analyzers
        self._settle = (self.config.settle_ms / 1000 if settle_seconds is None
                        else settle_seconds)
        self._call_timeout = (self.config.analyzer_timeout if call_timeout is None
                              else call_timeout)
        self._lock = threading.RLock()
        self._sessions: dict[str, Session] = {}
        self._listeners: list[Callable[[ActivityRecorded], None]] = []
        self._refresh_listeners: list[Callable[[bool], object]] = []
        self._refreshed = threading.Event()  # the projections moved since listeners heard
        self._store = EventStore(self.db)
        self._writer = EventWriter(self._store)
        self._projector = Projector(self.db)
        self._projector_lock = threading.Lock()
        self._sampler = ResourceSampler(Path.cwd())
        self._scheduler = BackgroundScheduler(timezone=timezone.utc)
        self._scheduler.add_job(self._scheduled_catch_up, "interval", seconds=CATCH_UP_SECONDS,
                                id="catch-up", max_instances=1, coalesce=True)
        self._catch_up_failure = ""  # the last reason a scheduled catch-up failed
        self._scheduler.start()
        self._closed = False
        self._expire_orphans()

    # --- the spec's API -------------------------------------------------------------

    def start_test_session(self, project_path: str | Path, duration_minutes: float | None = None,
                           *, mode: str | None = None, files: Sequence[str] = ()) -> str:
        """Start a session in the background and return its id at once.

        Without ``duration_minutes``: ``$REALWORLD_TESTING_DURATION``, else the config's
        ``default_duration`` (5 minutes). ``files`` (workspace-relative, ``/``-separated;
        mode ``once`` only) limits the pass to them, as a pre-commit hook does.
        """
        if duration_minutes is None:
            duration_minutes = _env_number(ENV_DURATION, parse_minutes,
                                           self.config.default_duration)
        project = Path(project_path).expanduser()
        if not project.is_dir():
            raise ValueError(f"project path does not exist or is not a directory: {project_path}")
        if mode is None:
            mode = "timed" if duration_minutes else "continuous"
        if mode not in ("timed", "continuous", "once"):
            raise ValueError(f"unknown session mode {mode!r}")
        if mode == "timed" and not duration_minutes > 0:
            raise ValueError("duration_minutes must be greater than 0")
        if mode == "timed" and not duration_minutes <= MAX_MINUTES:
            # Checked here: past this the end cannot be scheduled, and a session that fails
            # in start() would be left registered and 'running'.
            raise ValueError("duration_minutes must be at most 10 years")
        if files and mode != "once":
            raise ValueError("files are for a single pass (mode 'once')")
        outside = [f for f in files if not is_workspace_relative(f)]
        if outside:
            raise ValueError(f"not a path inside the project: {outside[0]!r}")
        return self._launch(project.resolve(), float(duration_minutes), mode, None,
                            tuple(files))

    def _launch(self, project: Path, duration_minutes: float, mode: str,
                resume_id: str | None, files: tuple[str, ...] = ()) -> str:
        try:
            limits = ResourceLimits.from_mapping(self.resource_limits, "resource_limits")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        with self._lock:
            if self._closed:
                raise RuntimeError("this RealWorldTester is closed")
            # A log that could not be written (a full disk) is tried again by each new
            # session: the daemon restarts failed ones, and the first write says if not.
            self._writer.resume()
            session_id = resume_id or self._new_session_id()
            spec = SessionSpec(
                session_id=session_id, project=project,
                duration_minutes=duration_minutes if mode == "timed" else 0.0,
                mode=mode, monitor_interval=self.monitor_interval, limits=limits,
                settle_seconds=self._settle, call_timeout=self._call_timeout,
                database_paths=(self.db.path,), ignore_globs=self.config.ignore,
                max_pending=self.config.max_pending,
                max_file_bytes=self.config.max_file_bytes or LARGEST_ANALYZER_CAP,
                probe_interval=self.config.probe_interval, files=files)
            session = Session(spec, db=self.db, writer=self._writer, scheduler=self._scheduler,
                              analyzers=self._analyzers(project), on_activity=self._activity,
                              on_end=self._session_ended)
            self._sessions[session_id] = session
        session.start(resume=resume_id is not None)
        # The start is durable and visible to plain SQL before the id is handed out.
        self.catch_up()
        return session_id

    def monitor_activities(self) -> Monitor:
        """What this tester's sessions are doing now."""
        self.catch_up()
        with self._lock:
            sessions = dict(self._sessions)
        ids = list(sessions)
        rows = session_rows(self.db, ids)
        by_capability = self._capabilities(ids)
        recent = recent_activities(self.db, ids)
        return {
            "timestamp": _now(),
            "active_sessions": [sid for sid, s in sessions.items() if s.running],
            "sessions": [{**row, "throttled": sessions[row["session_id"]].throttled}
                         for row in rows],
            "total_activities": sum(int(r["total_activities"] or 0) for r in rows),
            "total_errors": sum(int(r["total_errors"] or 0) for r in rows),
            "activities_by_capability": by_capability,
            "recent_activities": recent,
        }

    def collect_metrics(self) -> Metrics:
        """A fresh resource sample and response-time figures per capability."""
        self.catch_up()
        sample = self._sampler.sample()
        with self._lock:
            ids = list(self._sessions)
        times: dict[str, list[float]] = {}
        for capability, ms in response_times(self.db, ids):
            times.setdefault(capability, []).append(ms)
        capabilities: dict[str, CapabilityTimes] = {
            capability: {
                "calls": len(values),
                "avg_response_ms": sum(values) / len(values),
                "p95_response_ms": percentile(values, 95),
                "max_response_ms": max(values),
            }
            for capability, values in sorted(times.items())
        }
        return {
            "timestamp": _now(),
            "system_resources": {
                "cpu_percent": sample.cpu_percent,
                "memory_percent": sample.memory_percent,
                "disk_percent": sample.disk_percent,
            },
            "process": {"cpu_percent": sample.process_cpu_percent,
                        "rss_mb": sample.process_rss_mb},
            "capabilities": capabilities,
        }

    def analyze_session_results(self, session_id: str) -> Analysis:
        """The analysis the spec's examples index into: session, summary, top_issues, ..."""
        self._judge(session_id)
        return cast(Analysis, analysis_dict(self.db, session_id))

    def generate_improvement_report(self, session_id: str, fmt: str = "text") -> str:
        """The spec's improvement report (``fmt``: text, markdown or json)."""
        self._judge(session_id)
        return render_report(self.db, session_id, fmt)

    def stop_session(self, session_id: str) -> dict[str, Any]:
        """End a session (if it still runs) and return its final figures."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is not None:
            session.end("stopped", "stopped by request")
        elif not session_rows(self.db, [session_id]):
            raise ValueError(f"unknown session {session_id!r}")
        return self.session_stats(session_id)

    # --- beyond the spec --------------------------------------------------------------

    def wait(self, session_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until a session ends by itself; its final figures."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise ValueError(f"unknown session {session_id!r}")
        if not session.wait(timeout):
            raise TimeoutError(f"session {session_id} still runs after {timeout} s")
        return self.session_stats(session_id)

    def continue_or_start(self, project_path: str | Path) -> str:
        """The daemon's way in: take over this workspace's continuous session if the process
        that ran it is gone (what changed meanwhile is found by the startup rescan), else
        start a new one."""
        project = Path(project_path).expanduser().resolve()
        self.catch_up()
        with self._lock:
            mine = set(self._sessions)
        for row in resumable_sessions(self.db, str(project)):
            if row["session_id"] in mine:
                continue
            if process_alive(row["pid"], row["host"], row["pid_since"]) is False:
                return self._launch(project, 0.0, "continuous", row["session_id"])
        return self.start_test_session(project, 0, mode="continuous")

    def suspend_all(self) -> None:
        """Stop every session without ending it, so the next daemon resumes them."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.running]
        for session in sessions:
            session.request_stop()
        for session in sessions:
            session.suspend()

    def session(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    def session_start_time(self, session_id: str) -> datetime | None:
        """When a session started (the first start, for one resumed by a later process)."""
        self.catch_up()
        rows = session_rows(self.db, [session_id])
        if not rows or not rows[0].get("start_time"):
            return None
        return datetime.fromisoformat(str(rows[0]["start_time"]))

    def rotate(self, session_id: str, reason: str) -> str | None:
        """End a running continuous session (completed, ``reason``) and start the next one
        on its workspace at once; the new session's id, or None if it was not running.
        What the workspace holds comes from the projections, so the next session rescans
        nothing as new and announces no finding again."""
        session = self.session(session_id)
        if session is None or not session.running:
            return None
        session.request_stop()
        session.end("completed", reason)
        return self.start_test_session(session.spec.project, 0, mode="continuous")

    def schedule_retention(self, retention: timedelta | None) -> None:
        """Archive, every hour (more often for a short ``retention``), the sessions that
        ended longer ago than ``retention`` (``realworld archive --older-than``); None stops
        doing so."""
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job("retention")
        if retention is None:
            return
        every = retention_every(retention)
        self._scheduler.add_job(
            self._apply_retention, "interval", seconds=every, args=(retention,),
            id="retention", max_instances=1, coalesce=True,
            next_run_time=datetime.now(timezone.utc)
            + timedelta(seconds=min(every, RETENTION_FIRST_AFTER_S)))

    def schedule_shipping(self, url: str | None, machine: str | None = None,
                          interval: float = 10.0) -> None:
        """Ship the log to the fleet at ``url`` every ``interval`` seconds (``realworld
        ship``), backing off while the server is away; None stops shipping."""
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job("ship")
        if url is None:
            return
        # The PostgreSQL adapter (psycopg, 50 ms) loads only on machines that ship.
        from daemon.app.shipping import ShippingJob

        job = ShippingJob(self.db, url, machine, interval)
        self._scheduler.add_job(job.run, "interval", seconds=interval, id="ship",
                                max_instances=1, coalesce=True,
                                next_run_time=datetime.now(timezone.utc))

    def ship(self, url: str | None = None, machine: str | None = None) -> dict[str, Any]:
        """Ship the log to the fleet now (``realworld ship``): ``url`` or ``[fleet] url``;
        raises :class:`~daemon.fleet.connection.FleetError` (one line) when it cannot."""
        target = resolve_fleet_url(url, self.config)
        if target is None:
            raise ValueError("no fleet URL: pass one, set REALWORLD_FLEET_URL, or set [fleet] url")
        from daemon.fleet.shipper import ship

        self._writer.flush(10.0)
        result = ship(self.db, target, machine or self.config.fleet_machine)
        return {"fleet": result.fleet, "machine": result.machine, "shipped": result.shipped,
                "position": result.position, "behind": result.behind,
                "applied": result.applied}

    def apply_retention(self, retention: timedelta) -> None:
        """One retention pass now (what the schedule runs)."""
        self._apply_retention(retention)

    def session_stats(self, session_id: str) -> dict[str, Any]:
        self.catch_up()
        rows = session_rows(self.db, [session_id])
        if not rows:
            raise ValueError(f"unknown session {session_id!r}")
        return {**rows[0], "activities_by_capability": self._capabilities([session_id])}

    def add_activity_listener(self, listener: Callable[[ActivityRecorded], None]) -> None:
        """Called on the runner's thread after each measured call (the console uses it)."""
        with self._lock:
            self._listeners.append(listener)

    def catch_up(self) -> int:
        """Write what is queued, then bring the projections up to the end of the log.

        Flushing first gives every read through this tester read-your-writes: a session
        just started is in ``test_sessions`` when the next call looks.
        """
        self._writer.flush(10.0)
        with self._projector_lock:
            if self._closed:
                return 0
            applied = self._projector.catch_up().applied
        if applied:
            self._refreshed.set()
        return applied

    def add_refresh_listener(self, listener: Callable[[bool], object]) -> None:
        """Call ``listener`` (on the scheduler's thread) after each scheduled projection
        refresh, with whether the projections moved since its previous call (whoever
        caught them up)."""
        with self._lock:
            self._refresh_listeners.append(listener)

    def close(self) -> None:
        """Stop every running session, write what is queued, release the database."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.running]
        for session in sessions:
            session.request_stop()
        for session in sessions:
            session.end("stopped", "tester closed")
        self._writer.close()
        if self._scheduler.running:  # close() twice is fine
            self._scheduler.shutdown(wait=False)
        with self._projector_lock:
            if not self._closed:
                try:
                    self._projector.catch_up()
                except sqlite3.Error as exc:  # the log is safe; the next read catches up
                    self._catch_up_failed(exc)
                self._projector.close()
                self._store.close()
                self._closed = True

    def __enter__(self) -> RealWorldTester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------

    def _analyzers(self, project: Path) -> Sequence[Analyzer]:
        if self._analyzer_factory is not None:
            return self._analyzer_factory()
        return session_analyzers(project, self.db.path, self.config)

    def _expire_orphans(self) -> None:
        """Timed sessions whose process died can never end by themselves: end them here."""
        self.catch_up()
        orphans = [row["session_id"] for row in running_processes(self.db)
                   if row["mode"] != "continuous"
                   and process_alive(row["pid"], row["host"], row["pid_since"]) is False]
        if orphans:
            self._writer.put(Envelope(SessionEnded(sid, "expired", "its process ended without "
                                                   "ending it")) for sid in orphans)
            self.catch_up()  # writes what is queued first

    def _judge(self, session_id: str) -> None:
        """Record what the analysis concludes (issues, suggestions, score), idempotently."""
        self.catch_up()
        try:
            events = judgement_events(load_analysis(self.db, session_id))
        except UnknownSession:
            raise ValueError(f"unknown session {session_id!r}") from None
        if events:
            self._writer.put(Envelope(e) for e in events)
            self.catch_up()  # writes what is queued first

    def _scheduled_catch_up(self) -> None:
        """The scheduler's job: a failure is one log line when it first happens (or
        changes), not a traceback every two seconds."""
        try:
            self.catch_up()
        except Exception as exc:
            self._catch_up_failed(exc)
        else:
            self._catch_up_failure = ""
        moved = self._refreshed.is_set()
        self._refreshed.clear()
        with self._lock:
            listeners = list(self._refresh_listeners)
        for listener in listeners:
            try:
                listener(moved)
            except Exception:  # a listener's failure must not stop the refreshes
                log.exception("refresh_listener_failed")

    def _apply_retention(self, retention: timedelta) -> None:
        """The scheduler's retention job: a failure is one log line, and the log is as it
        was (the archive's own guarantee); the next run tries again."""
        if self._closed:
            return
        self._writer.flush(10.0)
        try:
            result = archive(self.db, utc_now() - retention)
        except Exception as exc:
            log.error("retention_failed", reason=describe_write_error(exc))
            return
        if result.segment is not None:
            log.info("retention_archived", segment=result.segment.name,
                     events=result.segment.events, sessions=result.sessions,
                     retained=result.retained_events, seconds=round(result.seconds, 2))
        if result.reclaimed is not None and result.reclaimed.error:
            log.warning("retention_space_not_reclaimed", reason=result.reclaimed.error)

    def _catch_up_failed(self, exc: BaseException) -> None:
        reason = describe_write_error(exc)
        if reason != self._catch_up_failure:
            log.error("projections_not_caught_up", reason=reason)
        self._catch_up_failure = reason

    def _session_ended(self, session: Session) -> None:
        if self._writer.failure is not None:
            return  # nothing to judge with: the verdict could not be written either
        try:
            self._judge(session.session_id)
        except Exception as exc:  # a report problem must not lose the session's end
            log.error("analysis_failed", session_id=session.session_id, error=str(exc))

    def _activity(self, event: ActivityRecorded) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:
                log.warning("activity_listener_failed", error=str(exc))

    def _new_session_id(self) -> str:
        base = datetime.now().strftime("test_%Y%m%d_%H%M%S")
        taken = set(self._sessions) | started_session_ids(self.db, base)
        if base not in taken:
            return base
        suffix = 2
        while f"{base}_{suffix}" in taken:
            suffix += 1
        return f"{base}_{suffix}"

    def _capabilities(self, ids: Sequence[str]) -> dict[str, CapabilityActivity]:
        return {
            row["capability"]: {
                "calls": row["calls"],
                "errors": row["calls"] - row["successes"],
                "success_rate": 100.0 * row["successes"] / row["calls"],
                "avg_response": row["avg_response"] or 0.0,
            }
            for row in capability_rows(self.db, ids)
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
