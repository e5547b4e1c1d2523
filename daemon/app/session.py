"""One test session on one workspace: watcher -> runner -> writer, with scheduled safety checks.

The session's own thread owns the watcher (``drain`` and ``rescan`` run on one
thread). Resource samples and the end of a timed session arrive as scheduler
jobs; whoever ends the session, it ends once, with one ``session_ended`` event.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler

from analyzers.base import Analyzer, safe_text
from analyzers.common.walk import list_workspace
from daemon.config import DEFAULT_MAX_PENDING, ResourceLimits
from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    Event,
    IssueDetected,
    IssueUpdated,
    SessionEnded,
    SessionResumed,
    SessionStarted,
)
from daemon.log.writer import EventWriter, WriterClosed
from daemon.projections.projector import catch_up
from daemon.read.learned import seed_analyzers
from daemon.read.queries import (
    file_rows,
    open_finding_rows,
    quarantine_rows,
    session_issue_fields,
)
from daemon.run.ledger import FindingLedger
from daemon.run.recovery import Quarantine
from daemon.run.resources import ResourceSample, is_news, sample_event
from daemon.run.runner import Runner
from daemon.run.safety import SafetyState, check_errors, check_resources
from daemon.run.sampler import ResourceSampler
from daemon.types import stable_id
from daemon.watch.ignore import IgnoreRules
from daemon.watch.results import file_changed_events, rescanned_event
from daemon.watch.snapshot import Change, FileState, ScanError, state_from_row
from daemon.watch.watcher import Watcher

log = structlog.get_logger("realworld.session")

#: How often an idle session checks that its watcher's observer is alive (and a throttled
#: one whether it may go on); between those, it blocks until something happens.
HEALTH_SECONDS = 1.0
#: After the runner's calls have stopped (see ``runner.STOP_GRACE_S``), how long the end
#: waits for the session's thread to leave what it was doing between calls.
JOIN_SECONDS = 1.0
#: Without a configured ``max_file_bytes``, the security scanner's cap, the largest of the
#: built-in analyzers': above it no analyzer reads a file.
LARGEST_ANALYZER_CAP = 8 * 1024 * 1024


@dataclass(frozen=True)
class SessionSpec:
    session_id: str
    project: Path
    duration_minutes: float  # 0: no end of its own (continuous, or a single pass)
    mode: str = "timed"  # timed | continuous | once
    monitor_interval: float = 30.0
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    settle_seconds: float = 0.1
    call_timeout: float = 30.0
    database_paths: tuple[Path, ...] = ()
    ignore_globs: tuple[str, ...] = ()
    max_pending: int = DEFAULT_MAX_PENDING  # paths settling at once before an overflow rescan
    probe_interval: float = 300.0  # seconds between periodic full passes
    max_file_bytes: int = LARGEST_ANALYZER_CAP  # a bigger changed file is an issue
    # With mode "once": only these files (workspace-relative, "/"-separated), as a
    # pre-commit hook passes the staged ones; empty for the whole workspace.
    files: tuple[str, ...] = ()


def quarantined_files(db: Database, workspace: str) -> Quarantine:
    """What earlier sessions quarantined in this workspace and nobody released."""
    return Quarantine.from_rows(quarantine_rows(db, workspace))


def known_files(db: Database, workspace: str) -> dict[str, FileState]:
    """The ``files`` projection for one workspace: what the daemon last saw on disk."""
    states = (state_from_row(*row) for row in file_rows(db, workspace))
    return {state.path: state for state in states if state is not None}


class Session:
    def __init__(self, spec: SessionSpec, *, db: Database, writer: EventWriter,
                 scheduler: BaseScheduler, analyzers: Sequence[Analyzer],
                 on_activity: Callable[[ActivityRecorded], None] | None = None,
                 on_end: Callable[[Session], None] | None = None) -> None:
        self.spec = spec
        self._db = db
        self._writer = writer
        self._scheduler = scheduler
        self._on_end = on_end
        self._runner = Runner(analyzers, writer.put, spec.session_id, spec.project,
                              timeout_s=spec.call_timeout, on_activity=on_activity,
                              workspace=str(spec.project), release_workers=spec.mode == "once")
        self._sampler = ResourceSampler(spec.project)
        self._safety = SafetyState()
        self._stop = threading.Event()
        self._done = threading.Event()  # set once ended or suspended: what wait() blocks on
        self._done_callbacks: list[Callable[[], None]] = []
        self._end_lock = threading.Lock()
        # Guards the callback lists only: the session's thread takes it on its way out
        # while another thread may hold _end_lock and be joining it.
        self._callbacks_lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"realworld-session-{spec.session_id}")
        # issue_id -> (severity, description) as the log has them: an issue is news once,
        # and an update only when one of them changed.
        self._issues: dict[str, tuple[str, str | None]] = {}
        self.started_at = datetime.now(timezone.utc)
        self.ended_at: datetime | None = None
        self.status = "running"
        self.end_reason = ""
        self.last_sample: ResourceSample | None = None
        # What a continuous session last appended, and how many samples it took since.
        self._recorded_sample: ResourceSample | None = None
        self._samples_since_recorded = 0
        self.suspended = False
        self.first_scan = threading.Event()  # set once the baseline pass is recorded
        self._first_scan_callbacks: list[Callable[[], None]] = []
        self._watcher: Watcher | None = None  # while watching: stopping wakes its wait
        self._log = log.bind(session_id=spec.session_id)

    @property
    def session_id(self) -> str:
        return self.spec.session_id

    @property
    def running(self) -> bool:
        return self.ended_at is None and not self.suspended

    @property
    def throttled(self) -> bool:
        return self._safety.throttled

    def _emit(self, *events: Event) -> None:
        self._writer.put([Envelope(e) for e in events])

    # --- lifecycle ----------------------------------------------------------------

    def start(self, *, resume: bool = False) -> None:
        """Record the start (or a takeover of a session left running) and begin work."""
        spec = self.spec
        pid, host = os.getpid(), socket.gethostname()
        if resume:
            # The issues the previous process raised are in the log already; a bad file
            # still there, or a limit still passed, is not news again. Before the first
            # sample is scheduled, which may raise one. Best effort: a log we cannot read
            # now costs a repeated issue, not the resume.
            try:
                catch_up(self._db)
                self._issues = session_issue_fields(self._db, spec.session_id)
            except Exception as exc:
                self._log.warning("issues_unreadable", error=f"{type(exc).__name__}: {exc}")
            self._emit(SessionResumed(spec.session_id, pid, host))
        else:
            self._emit(SessionStarted(spec.session_id, str(spec.project), spec.duration_minutes,
                                      spec.mode, pid, host))
        self._log.info("session_resumed" if resume else "session_started",
                       project=str(spec.project), mode=spec.mode,
                       duration_minutes=spec.duration_minutes)
        self._scheduler.add_job(self._sample, "interval", seconds=spec.monitor_interval,
                                id=f"{spec.session_id}:sample", max_instances=1,
                                coalesce=True, next_run_time=datetime.now(timezone.utc))
        if spec.mode == "timed" and spec.duration_minutes > 0:
            end = self.started_at + timedelta(minutes=spec.duration_minutes)
            self._scheduler.add_job(self.end, "date", run_date=end,
                                    args=("completed", "duration reached"),
                                    id=f"{spec.session_id}:expire")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session has ended (or was suspended); False on timeout."""
        return self._done.wait(timeout)

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the ending thread) once the session has ended or was
        suspended; at once if it already has."""
        with self._callbacks_lock:
            if not self._done.is_set():
                self._done_callbacks.append(callback)
                return
        callback()

    def on_first_scan(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the baseline pass is recorded (or will never be); at
        once if it already is."""
        with self._callbacks_lock:
            if not self.first_scan.is_set():
                self._first_scan_callbacks.append(callback)
                return
        callback()

    def _first_scan_done(self) -> None:
        with self._callbacks_lock:
            self.first_scan.set()
            callbacks, self._first_scan_callbacks = self._first_scan_callbacks, []
        for callback in callbacks:
            callback()

    def _finish(self) -> None:
        """Under ``_end_lock``: wake whoever waits for the end."""
        with self._callbacks_lock:
            self._done.set()
            callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                self._log.exception("on_done_failed")

    def _wake_watcher(self) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.wake()

    def _halt(self) -> None:
        """Stop the work in order: no new call, running calls told to stop at their next
        file and waited for (bounded), the session's thread joined, and only then what
        the analyzers hold released, by whoever is last to use it."""
        self._stop.set()
        self._wake_watcher()
        for job in ("sample", "expire"):
            with contextlib.suppress(JobLookupError):  # already ran, or never scheduled
                self._scheduler.remove_job(f"{self.session_id}:{job}")
        self._runner.stop()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(JOIN_SECONDS)
        left_running = self._runner.close()
        if left_running:  # each is closed by its call's own thread when it returns
            self._log.warning("analyzer_calls_left_running", analyzers=sorted(left_running))

    def request_stop(self) -> None:
        """Ask the session's thread to wind down without waiting for it; ``suspend`` or
        ``end`` follows. Stopping many sessions, asking all first lets them wind down
        together instead of one join after another."""
        self._stop.set()
        self._wake_watcher()
        self._runner.request_stop()

    def suspend(self) -> None:
        """Stop working without ending: the daemon's shutdown, so a restart resumes it."""
        with self._ending() as mine:
            if not mine or self.ended_at is not None or self.suspended:
                return
            self.suspended = True
            self._halt()
            self._writer.flush(10.0)
            self._finish()
        self._log.info("session_suspended")

    @contextlib.contextmanager
    def _ending(self) -> Iterator[bool]:
        """The end lock; the session's own thread does not wait for it (whoever holds it
        is ending the session and joining that very thread), and gets False."""
        mine = self._end_lock.acquire(blocking=threading.current_thread() is not self._thread)
        try:
            yield mine
        finally:
            if mine:
                self._end_lock.release()

    def end(self, status: str = "stopped", reason: str = "") -> None:
        """End the session once: stop watching, record the end, make it durable.

        When the log cannot be written, the session ends in ``error`` with the log's
        reason (disk full, ...), and its end is recorded once the log takes writes again.
        """
        with self._ending() as mine:
            if not mine or self.ended_at is not None or self.suspended:
                return
            self._halt()
            failure = self._writer.failure
            if failure is not None and status != "error":
                status, reason = "error", f"the event log cannot be written: {failure.reason}"
            self.status, self.end_reason = status, reason
            self._writer.put_eventually([Envelope(SessionEnded(self.session_id, status,
                                                               reason))])
            if self._writer.flush(10.0):
                self._log.info("session_ended", status=status, reason=reason)
            else:
                self._log.error("session_end_not_recorded", status=status, reason=reason)
            if self._on_end is not None:
                # Before ended_at is set, so whoever waits for the end also waits for this.
                try:
                    self._on_end(self)
                except Exception:
                    self._log.exception("on_end_failed")
            self.ended_at = datetime.now(timezone.utc)
            self._finish()

    # --- the session's thread -------------------------------------------------------

    def _main(self) -> None:
        # Every line logged on this thread, and on the analyzer calls it starts, names the
        # session (structlog's merge_contextvars, daemon.logsetup); a new thread starts with
        # an empty context, so nothing leaks into another session's thread.
        structlog.contextvars.bind_contextvars(session_id=self.session_id)
        try:
            # Learned fixes are events: a new session starts out knowing them; so are
            # quarantined files, which stay skipped until their content changes.
            seed_analyzers(self._db, self.spec.project, self._runner.analyzers)
            catch_up(self._db)
            self._runner.quarantine = quarantined_files(self._db, str(self.spec.project))
            # What the log says is open: the session announces only what changes from it.
            self._runner.ledger = FindingLedger.from_rows(
                open_finding_rows(self._db, str(self.spec.project)))
            if self.spec.mode == "once":
                self._single_pass()
                return
            self._watch()
        except WriterClosed as exc:
            # Said once, by the writer (disk full, ...); the end carries the reason.
            self.end("error", f"the event log cannot be written: {exc.reason}")
        except Exception as exc:
            if self._stop.is_set():
                # Shutting down: a call that outlived the join may find the writer closed.
                self._log.warning("session_thread_after_stop", error=str(exc))
                return
            self._log.exception("session_failed")
            self.end("error", f"{type(exc).__name__}: {exc}")
        finally:
            self._first_scan_done()  # nobody waits forever for a scan that will not come

    def _single_pass(self) -> None:
        """One pass of every analyzer, over the whole workspace or the spec's files."""
        files = self.spec.files
        if files:
            self._runner.run_batch(files)
        else:
            # No watcher rescan here to see sizes, so one listing finds what is too big.
            self._report_oversized_files(self._workspace_sizes())
            self._runner.run_full_pass()
        # "One pass" means every file: analyzers working to a time budget are called
        # until they have none left.
        while self._runner.unfinished and not self._stop.is_set():
            if files:
                self._runner.run_batch(files, only=self._runner.unfinished)
            else:
                self._runner.run_full_pass(only=self._runner.unfinished)
        self._writer.flush(10.0)
        self._first_scan_done()
        self._check_errors()
        self.end("completed", f"pass over {len(files)} files finished" if files
                 else "single pass finished")

    def _watch(self) -> None:
        spec = self.spec
        catch_up(self._db)  # the files projection must be current before we compare with it
        rules = self._ignore_rules()
        known = known_files(self._db, rules.root)
        watcher = Watcher(spec.project, rules, known, settle=spec.settle_seconds,
                          max_pending=spec.max_pending)
        plan = watcher.start()
        self._watcher = watcher
        self._log.info("watching", backend=plan.backend, reason=plan.reason,
                       directories=plan.directories)
        try:
            first = watcher.rescan("startup")
            self._emit(rescanned_event(spec.session_id, watcher.root, first),
                       *file_changed_events(spec.session_id, watcher.root, first.changes))
            self._report_errors(first.errors)
            self._report_oversized(first.changes)
            # A baseline of every analyzer on the whole workspace, then only what changes.
            self._runner.run_full_pass()
            self._check_errors()
            self._writer.flush(10.0)  # "recorded": readers (the daemon's READY) see it
            self._first_scan_done()
            next_probe = time.monotonic() + spec.probe_interval
            while not self._stop.is_set():
                if time.monotonic() >= next_probe:
                    # Periodic probes: a full pass measures every analyzer even on a quiet
                    # workspace, and the rescan before it covers what inotify cannot see
                    # (directories past the watch limit, network filesystems).
                    scheduled = watcher.rescan("scheduled")
                    if scheduled.changes:
                        self._emit(rescanned_event(spec.session_id, watcher.root, scheduled),
                                   *file_changed_events(spec.session_id, watcher.root,
                                                        scheduled.changes))
                    self._runner.run_full_pass()
                    self._check_errors()
                    next_probe = time.monotonic() + spec.probe_interval
                self._wait_for_work(watcher, next_probe)
                if self._stop.is_set():
                    break
                self._check_log()
                if self._safety.throttled:
                    continue  # changes keep settling in the watcher; analyzers are paused
                drained = watcher.drain()
                if drained.changes:
                    self._emit(*file_changed_events(spec.session_id, watcher.root,
                                                    drained.changes))
                    self._analyze(drained.changes)
                elif self._runner.unfinished:
                    # A first pass over a big workspace goes on between changes, call by
                    # call, instead of waiting for the next periodic pass.
                    self._runner.run_full_pass(only=self._runner.unfinished)
                    self._check_errors()
                self._report_errors(drained.errors)
                if drained.rescan_needed:
                    self._log.warning("rescan", reason=drained.rescan_needed,
                                      dropped_events=drained.dropped_events)
                    result = watcher.rescan(drained.rescan_needed)
                    self._emit(rescanned_event(spec.session_id, watcher.root, result),
                               *file_changed_events(spec.session_id, watcher.root,
                                                    result.changes))
                    self._analyze(result.changes)
        finally:
            self._watcher = None
            watcher.stop()

    def _wait_for_work(self, watcher: Watcher, next_probe: float) -> None:
        """Block until there is something to do: a change settled, the next probe pass, a
        health check, or the end. Never a poll: settling changes are waited out to their
        deadline (later events only push it back), an idle watcher is waited on."""
        now = time.monotonic()
        horizon = min(next_probe, now + HEALTH_SECONDS)
        if self._safety.throttled:
            self._stop.wait(max(0.0, horizon - now))  # samples decide when to go on
            return
        if self._runner.unfinished:
            return  # a first pass goes on call by call between changes
        deadline = watcher.next_deadline()
        if deadline is not None:
            self._stop.wait(max(0.0, min(deadline, horizon) - now))
        else:
            watcher.wait(max(0.0, horizon - now))

    def _analyze(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        self._report_oversized(changes)
        paths: list[str] = []
        for change in changes:
            paths.append(change.path)
            if change.dest_path:
                paths.append(change.dest_path)
        self._runner.run_batch(paths)
        self._check_errors()

    def _report_errors(self, errors: Sequence[ScanError]) -> None:
        for error in errors:
            self._raise_once(IssueDetected(
                self.session_id, stable_id(self.session_id, f"{error.kind}:{error.path}"),
                "low", "workspace_analyzer", f"file_{error.kind}",
                description=f"{error.path}: {error.message}",
                suggested_fix="Check the file's permissions and type, or ignore it in "
                              ".gitignore", reproducible=True))

    def _raise_once(self, issue: IssueDetected) -> None:
        """Emit ``issue`` unless the session already raised it (in this process or the
        one it resumed from): a condition that persists is one issue, not one a pass."""
        if issue.issue_id in self._issues:
            return
        self._issues[issue.issue_id] = (issue.severity, issue.description)
        self._emit(issue)

    def _report_oversized(self, changes: Sequence[Change]) -> None:
        self._report_oversized_files(
            (change.current_path, change.state.size)
            for change in changes if change.state is not None)

    def _report_oversized_files(self, sizes: Iterable[tuple[str, int]]) -> None:
        """A file too big to analyze is news once per session: analyzers skip it quietly."""
        cap = self.spec.max_file_bytes
        for path, size in sizes:
            if size <= cap:
                continue
            self._raise_once(IssueDetected(
                self.session_id, stable_id(self.session_id, f"too_large:{path}"), "info",
                "realworld",
                "file_too_large",
                description=f"{safe_text(path)}: {size:,} bytes, above "
                            f"max_file_bytes ({cap:,}); analyzers skip it",
                suggested_fix="Ignore generated or data files in .gitignore, or raise "
                              "max_file_bytes in the config", reproducible=True))

    def _ignore_rules(self) -> IgnoreRules:
        """What the watcher leaves out: .gitignore files, our databases, configured globs."""
        spec = self.spec
        return IgnoreRules.load(spec.project, database_paths=spec.database_paths,
                                extra_globs=spec.ignore_globs)

    def _workspace_sizes(self) -> Iterator[tuple[str, int]]:
        """(path, size) of every regular file the watcher would watch, links not followed."""
        spec = self.spec
        for path in list_workspace(spec.project, self._ignore_rules().is_ignored).files:
            try:
                info = os.lstat(spec.project / path)
            except OSError:
                continue  # gone, or unreadable: the analyzers' own pass reports that
            if stat.S_ISREG(info.st_mode):
                yield path, info.st_size

    def _check_log(self) -> None:
        """A quiet session emits nothing for a while: it learns of a log it can no longer
        write here, not at its next change."""
        failure = self._writer.failure
        if failure is not None:
            raise WriterClosed(str(failure), failure.reason)

    def _check_errors(self) -> None:
        decision = check_errors(self.spec.limits, self._runner.consecutive_errors)
        if decision.action == "stop":
            self.end("error", decision.reason)

    # --- scheduled jobs -------------------------------------------------------------

    def _sample(self) -> None:
        """The scheduler's job: a failure is one log line and the session's decision,
        never a traceback from APScheduler's executor."""
        if not self.running:
            return
        try:
            self._take_sample()
        except WriterClosed as exc:
            self.end("error", f"the event log cannot be written: {exc.reason}")
        except Exception as exc:
            self._log.error("sample_failed", error=f"{type(exc).__name__}: {exc}")

    def _record_sample(self, sample: ResourceSample, *, evidence: bool) -> None:
        """Append the sample: always in a bounded (timed, once) session, whose samples are
        the measurement; in a continuous one when it is news or bears on a limit."""
        continuous = self.spec.mode == "continuous"
        if continuous and not evidence and not is_news(
                self._recorded_sample, sample, self._samples_since_recorded):
            self._samples_since_recorded += 1
            return
        self._emit(sample_event(self.session_id, sample))
        self._recorded_sample = sample
        self._samples_since_recorded = 0

    def _take_sample(self) -> None:
        sample = self._sampler.sample()
        self.last_sample = sample
        was_throttled = self._safety.throttled
        self._safety, decision = check_resources(self.spec.limits, sample, self._safety)
        self._record_sample(sample, evidence=decision.action != "ok" or was_throttled)
        if decision.action in ("throttle", "stop"):
            issue_id = stable_id(self.session_id, "resource_limits")
            severity = "critical" if decision.action == "stop" else "high"
            known = self._issues.get(issue_id)
            if known is None:
                self._raise_once(IssueDetected(
                    self.session_id, issue_id, severity, "realworld", "resource_limit",
                    description=decision.reason,
                    suggested_fix="Raise --monitor-interval, narrow the workspace, or adjust "
                                  "resource_limits", reproducible=False))
            elif known != (severity, decision.reason):
                # Only what changed: the same limit passed by the same amount is no news.
                self._issues[issue_id] = (severity, decision.reason)
                self._emit(IssueUpdated(
                    self.session_id, issue_id,
                    severity=severity if known[0] != severity else None,
                    description=decision.reason if known[1] != decision.reason else None))
            self._log.warning("resource_limit", action=decision.action, reason=decision.reason)
        elif decision.action == "resume":
            self._log.info("resources_recovered")
        if decision.action == "stop":
            self.end("error", decision.reason)
