"""`realworld daemon`: continuous sessions for the configured workspaces, under systemd.

SIGTERM/SIGINT: ``STOPPING=1``, suspend every session (queued events are
written, projections checkpointed), exit 0 well within systemd's stop timeout;
the next start resumes the same sessions and its startup rescan catches up on
what changed meanwhile. SIGHUP: read the config again, start sessions for new
workspaces and end those for removed ones.

Retention: a continuous session older than ``session_rotation`` (a day by default) is
ended and the next one started on its workspace, so that sessions end and ``retention``
(when set) can archive them, hourly, once they ended longer ago than it says.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from analyzers.common.private_files import make_private_dirs
from daemon.app.tester import RealWorldTester
from daemon.config import (
    Config,
    default_state_db,
    format_period,
    load_config,
    resolve_db_path,
    resolve_fleet_url,
)
from daemon.log.events import utc_now
from daemon.service.metrics_file import MetricsFile
from daemon.service.sdnotify import Notifier
from daemon.service.wakeup import Wakeup

log = structlog.get_logger("realworld.daemon")

READY_TIMEOUT_S = 600.0  # a first scan of a very large workspace; systemd's own limit applies
STATUS_EVERY_S = 10.0
RESTART_AFTER_S = 30.0  # a session that ended in error is started again after this pause


class DaemonUsageError(ValueError):
    """Bad configuration for the daemon; one line, exit 2."""


@dataclass(frozen=True)
class DaemonOptions:
    config_path: str | None
    db: str | None
    workspaces: tuple[str, ...]  # from --workspace; else the config's


def _workspaces(options: DaemonOptions, config: Config) -> list[Path]:
    listed = options.workspaces or config.workspaces
    if not listed:
        raise DaemonUsageError("no workspaces to watch: list them under 'workspaces' in the "
                               "config file or pass --workspace PATH")
    paths: list[Path] = []
    for item in listed:
        path = Path(item).expanduser()
        if not path.is_dir():
            raise DaemonUsageError(f"workspace does not exist or is not a directory: {item}")
        paths.append(path.resolve())
    return list(dict.fromkeys(paths))


class Daemon:
    def __init__(self, options: DaemonOptions, notifier: Notifier | None = None) -> None:
        self._options = options
        self._notifier = notifier if notifier is not None else Notifier()
        self._config = load_config(options.config_path)
        self._workspaces = _workspaces(options, self._config)
        self.db_path = resolve_db_path(options.db, self._config, default=default_state_db())
        make_private_dirs(self.db_path.parent)  # ~/.local/state/realworld: ours alone
        # Signals, stop and reload requests all arrive here; the main thread waits on it.
        self._wakeup = Wakeup()
        self._stopping = False
        self._sessions: dict[Path, str] = {}
        self._started_at: dict[Path, datetime] = {}  # each session's first start
        self._ended_at: dict[Path, float] = {}
        self._tester: RealWorldTester | None = None
        self._last_ping: float | None = None

    def request_stop(self) -> None:
        """From any thread (a test, a signal delivered elsewhere): stop as SIGTERM does."""
        self._wakeup.post(signal.SIGTERM)

    def request_reload(self) -> None:
        self._wakeup.post(signal.SIGHUP)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or :meth:`request_stop`); SIGHUP reloads."""
        with self._wakeup.signals((signal.SIGTERM, signal.SIGINT, signal.SIGHUP)):
            try:
                return self._serve()
            finally:
                self._wakeup.close()

    def _serve(self) -> int:
        tester = RealWorldTester(self.db_path, config=self._config)
        self._tester = tester
        if self._config.metrics_textfile:
            metrics = MetricsFile(Path(self._config.metrics_textfile).expanduser(),
                                  min_interval_s=self._config.metrics_interval)
            tester.add_refresh_listener(lambda moved: metrics.refreshed(tester.db, moved))
            metrics.write(tester.db)  # at once: the collector sees the daemon before work
        try:
            for workspace in self._workspaces:
                if self._stopping:
                    break
                self._start(tester, workspace)
            self._wait_for_first_scans(tester)
            tester.schedule_retention(self._config.retention)
            self._schedule_shipping(tester, self._config)
            if not self._stopping:
                self._notifier.ready(self._status_line(tester))
                log.info("ready", workspaces=[str(w) for w in self._workspaces],
                         db=str(self.db_path))
                self._loop(tester)
        finally:
            self._notifier.stopping()
            log.info("stopping")
            tester.suspend_all()
            tester.close()
            log.info("stopped")
        return 0

    def _take(self, timeout: float) -> bool:
        """Wait for a signal or request (or ``timeout``); False once told to stop."""
        for number in self._wakeup.wait(timeout):
            if number in (signal.SIGTERM, signal.SIGINT):
                self._stopping = True
            elif number == signal.SIGHUP and self._tester is not None and not self._stopping:
                self._apply_reload(self._tester)
        return not self._stopping

    # --- internals -------------------------------------------------------------------

    def _start(self, tester: RealWorldTester, workspace: Path) -> None:
        session_id = tester.continue_or_start(workspace)
        self._sessions[workspace] = session_id
        self._started_at[workspace] = tester.session_start_time(session_id) or utc_now()
        log.info("watching", workspace=str(workspace), session_id=session_id)
        # A session resumed after a long stop may be past its rotation already.
        self._rotate(tester, workspace)

    def _rotate(self, tester: RealWorldTester, workspace: Path) -> None:
        """End the workspace's session once it is ``session_rotation`` old and start the
        next: retention archives ended sessions only."""
        rotation = self._config.session_rotation
        started = self._started_at.get(workspace)
        if rotation is None or started is None or utc_now() - started < rotation:
            return
        previous = self._sessions[workspace]
        following = tester.rotate(previous, f"rotated after {format_period(rotation)}")
        if following is None:
            return  # not running: _restart_failed looks after it
        self._sessions[workspace] = following
        self._started_at[workspace] = tester.session_start_time(following) or utc_now()
        log.info("session_rotated", workspace=str(workspace), previous=previous,
                 session_id=following)

    def _wait_for_first_scans(self, tester: RealWorldTester) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        sessions = [s for s in map(tester.session, self._sessions.values()) if s is not None]
        for session in sessions:
            session.on_first_scan(self._wakeup.wake)
        while not all(s.first_scan.is_set() for s in sessions):
            left = deadline - time.monotonic()
            if left <= 0 or not self._take(min(left, self._tick())):
                return
            self._ping()

    def _loop(self, tester: RealWorldTester) -> None:
        last_status = 0.0
        while self._take(self._tick()):
            self._ping()
            self._restart_failed(tester)
            for workspace in list(self._sessions):
                self._rotate(tester, workspace)
            now = time.monotonic()
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                self._notifier.status(self._status_line(tester))

    def _tick(self) -> float:
        interval = self._notifier.watchdog_interval
        return min(1.0, interval) if interval else 1.0

    def _ping(self) -> None:
        """WATCHDOG=1 once half of WatchdogSec has passed since the last: the loop wakes
        more often (signals, first scans, its one-second checks) than systemd needs."""
        interval = self._notifier.watchdog_interval
        now = time.monotonic()
        if interval and (self._last_ping is None or now - self._last_ping >= interval):
            self._last_ping = now
            self._notifier.watchdog()

    def _restart_failed(self, tester: RealWorldTester) -> None:
        for workspace, session_id in list(self._sessions.items()):
            session = tester.session(session_id)
            if session is None or session.running or session.suspended:
                continue
            ended = self._ended_at.setdefault(workspace, time.monotonic())
            if time.monotonic() - ended >= RESTART_AFTER_S and workspace.is_dir():
                log.warning("restarting_session", workspace=str(workspace),
                            previous=session_id, status=session.status,
                            reason=session.end_reason)
                del self._ended_at[workspace]
                self._start(tester, workspace)

    @staticmethod
    def _schedule_shipping(tester: RealWorldTester, config: Config) -> None:
        tester.schedule_shipping(resolve_fleet_url(None, config), config.fleet_machine,
                                 config.ship_interval)

    def _apply_reload(self, tester: RealWorldTester) -> None:
        try:
            config = load_config(self._options.config_path)
            workspaces = _workspaces(self._options, config)
        except Exception as exc:  # a bad edit must not take the daemon down
            log.error("reload_failed", error=str(exc))
            return
        self._config = config
        tester.schedule_retention(config.retention)
        self._schedule_shipping(tester, config)
        tester.resource_limits = config.resource_limits.as_dict()
        tester.monitor_interval = config.monitor_interval
        for workspace in [w for w in self._sessions if w not in workspaces]:
            tester.stop_session(self._sessions.pop(workspace))
            self._started_at.pop(workspace, None)
            log.info("unwatched", workspace=str(workspace))
        for workspace in [w for w in workspaces if w not in self._sessions]:
            self._start(tester, workspace)
        self._workspaces = workspaces
        log.info("reloaded", workspaces=[str(w) for w in workspaces])

    def _status_line(self, tester: RealWorldTester) -> str:
        monitor = tester.monitor_activities()
        return (f"watching {len(monitor['active_sessions'])} workspace(s); "
                f"{monitor['total_activities']} activities, {monitor['total_errors']} errors")


def run_daemon(config_path: str | None, db: str | None, workspaces: Sequence[str]) -> int:
    return Daemon(DaemonOptions(config_path, db, tuple(workspaces))).run()

