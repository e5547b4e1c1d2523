"""Running the analyzers on a settled batch: bounded, with a deadline per call, every call recorded.

Each call becomes exactly one ``ActivityRecorded`` handed to ``emit`` (with the
call's findings in the same batch, so they land in one transaction). A call that
raises, times out or returns nonsense is an error activity; the session goes on.

Why a thread per call rather than a ``ThreadPoolExecutor`` or processes:

* Threads, because analyzers keep state between calls (churn counters, index
  connections) and their results come back without pickling; their work is
  mostly file and SQLite IO, which releases the GIL.
* Our own daemon threads, because a thread cannot be killed: a call that times
  out is abandoned and keeps running. A pool's worker would stay occupied by it
  (two hung calls would stall every later batch) and ``ThreadPoolExecutor`` joins
  its workers at interpreter exit, so one hung analyzer would hang ``realworld``'s
  exit too. Here a timed-out call frees its slot at once, its daemon thread dies
  with the process, and the analyzer is skipped (an error activity) until that
  call returns, so calls to one analyzer never overlap and the number of threads
  stays bounded by ``max_workers`` plus one per hung analyzer.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzers.base import FULL_PASS, AnalysisResult, Analyzer, safe_text
from daemon.events import (
    ActivityRecorded,
    Envelope,
    Event,
    FindingDetected,
    FindingResolved,
    PatternLearned,
)
from daemon.measure import Failure, Measurement, Meter, Outcome, Started, activity_event

log = logging.getLogger(__name__)

Emit = Callable[[Sequence[Envelope]], None]
OnActivity = Callable[[ActivityRecorded], None]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WORKERS = 2


@dataclass
class _Call:
    """One call's bookkeeping, shared by the coordinator and its worker under the runner's lock."""

    analyzer: Analyzer
    paths: tuple[str, ...]
    launched_at: float = 0.0
    measurement: Measurement | None = None
    outcome: Outcome | None = None
    started: Started | None = None  # set by the worker once it has taken its readings
    finished: bool = False
    abandoned: bool = False


class Runner:
    """Calls the analyzers on each batch and records every call.

    ``run_batch`` and ``run_full_pass`` block until each call of the batch has
    finished or timed out; batches run one at a time (a second caller waits).
    ``emit`` is called on the calling thread, once per call, with the activity
    first; if it raises, the exception propagates (the log is the source of truth,
    so a session that cannot write it cannot go on).
    """

    def __init__(self, analyzers: Sequence[Analyzer], emit: Emit, session_id: str, root: Path,
                 *, timeout_s: float = DEFAULT_TIMEOUT_S, max_workers: int = DEFAULT_MAX_WORKERS,
                 on_activity: OnActivity | None = None, meter: Meter | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        names = [a.name for a in analyzers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"analyzers with the same name: {', '.join(duplicates)}")
        self._analyzers = tuple(analyzers)
        self._emit = emit
        self._session_id = session_id
        self._root = Path(root)
        self._timeout_s = timeout_s
        self._max_workers = max_workers
        self._on_activity = on_activity
        self._meter = meter if meter is not None else Meter()
        self._lock = threading.Lock()  # guards _busy and every _Call's flags
        self._batch_lock = threading.Lock()
        self._busy: set[str] = set()
        self._consecutive_errors = 0
        self._errors_by_capability: dict[str, int] = {}

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        return self._analyzers

    @property
    def consecutive_errors(self) -> int:
        """Error activities since the last successful one, across all analyzers."""
        return self._consecutive_errors

    @property
    def consecutive_errors_by_capability(self) -> Mapping[str, int]:
        return dict(self._errors_by_capability)

    @property
    def busy(self) -> frozenset[str]:
        """Capabilities whose timed-out call is still running (they are skipped meanwhile)."""
        with self._lock:
            return frozenset(self._busy)

    def run_batch(self, paths: Sequence[str]) -> list[ActivityRecorded]:
        """Call each analyzer that applies to any of ``paths`` (relative, ``/``-separated)
        with the paths it applies to."""
        # An empty path would read as a full pass to the analyzer; a repeat adds nothing.
        batch = tuple(dict.fromkeys(p for p in paths if p))
        if not batch:
            return []
        calls: list[_Call] = []
        refused: list[tuple[Analyzer, BaseException]] = []
        for analyzer in self._analyzers:
            try:
                matching = tuple(p for p in batch if analyzer.applies_to(p))
            except Exception as exc:
                refused.append((analyzer, exc))
                continue
            if matching:
                calls.append(_Call(analyzer, matching))
        return self._in_waves(calls, refused)

    def run_full_pass(self) -> list[ActivityRecorded]:
        """Call every analyzer on the whole workspace."""
        return self._in_waves([_Call(analyzer, FULL_PASS) for analyzer in self._analyzers], [])

    def _in_waves(self, calls: list[_Call],
                  refused: list[tuple[Analyzer, BaseException]]) -> list[ActivityRecorded]:
        """Probes (``runs_after_others = True``, e.g. code_search) measure what the other
        analyzers just produced, so they run once those calls are done."""
        later = [c for c in calls if getattr(c.analyzer, "runs_after_others", False)]
        first = [c for c in calls if not getattr(c.analyzer, "runs_after_others", False)]
        done = self._run(first, refused)
        return done + self._run(later, []) if later else done

    # --- coordination -------------------------------------------------------

    def _run(self, calls: list[_Call],
             refused: list[tuple[Analyzer, BaseException]]) -> list[ActivityRecorded]:
        with self._batch_lock:
            recorded: list[ActivityRecorded] = []
            for analyzer, exc in refused:
                recorded.append(self._record(analyzer, None, exc))
            outbox: queue.SimpleQueue[_Call] = queue.SimpleQueue()
            waiting = deque(calls)
            running: list[_Call] = []
            try:
                while waiting or running:
                    while waiting and len(running) < self._max_workers:
                        call = waiting.popleft()
                        if self._is_busy(call.analyzer.name):
                            recorded.append(self._record(call.analyzer, None, Failure(
                                "skipped", "skipped: its previous call is still running")))
                            continue
                        self._launch(call, outbox)
                        running.append(call)
                    if not running:
                        break
                    deadline = min(c.launched_at for c in running) + self._timeout_s
                    try:
                        done = outbox.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        pass
                    else:
                        running.remove(done)
                        assert done.outcome is not None
                        recorded.append(self._record(done.analyzer, done.measurement, done.outcome))
                    for call in self._expired(running):
                        running.remove(call)
                        recorded.append(self._record(call.analyzer, self._measure_abandoned(call),
                                                     Failure("timeout", self._timeout_message())))
            finally:
                # Only if emit raised: calls still out there must not overlap the next batch's.
                for call in running:
                    self._abandon(call)
            return recorded

    def _launch(self, call: _Call, outbox: queue.SimpleQueue[_Call]) -> None:
        call.launched_at = time.monotonic()
        thread = threading.Thread(target=self._work, args=(call, outbox), daemon=True,
                                  name=f"realworld-{call.analyzer.name}")
        thread.start()

    def _expired(self, running: list[_Call]) -> list[_Call]:
        now = time.monotonic()
        expired = []
        for call in running:
            if now - call.launched_at >= self._timeout_s and self._abandon(call):
                expired.append(call)
        return expired

    def _abandon(self, call: _Call) -> bool:
        """Give up on a call; False when it finished meanwhile (its outcome is in the outbox)."""
        with self._lock:
            if call.finished:
                return False
            call.abandoned = True
            self._busy.add(call.analyzer.name)
            return True

    def _is_busy(self, name: str) -> bool:
        with self._lock:
            return name in self._busy

    def _timeout_message(self) -> str:
        return f"timed out after {self._timeout_s:g}s"

    def _measure_abandoned(self, call: _Call) -> Measurement:
        """Readings for a call given up on; its time is how long the runner waited."""
        started = call.started
        if started is None:  # the worker never got as far as its readings
            started = self._meter.start()
        measurement = self._meter.stop(started)
        waited_ms = round((time.monotonic() - call.launched_at) * 1000.0, 3)
        return dataclasses.replace(measurement, response_time_ms=waited_ms)

    # --- the worker -----------------------------------------------------------

    def _work(self, call: _Call, outbox: queue.SimpleQueue[_Call]) -> None:
        outcome: Outcome
        measurement: Measurement | None = None
        try:
            started = self._meter.start()
            call.started = started
            try:
                value = call.analyzer.analyze(self._root, call.paths)
            except BaseException as exc:  # even SystemExit: here it would only end this thread
                outcome = exc
            else:
                outcome = value if isinstance(value, AnalysisResult) else Failure(
                    "invalid_result", f"analyze returned {type(value).__name__}, "
                                      "not an AnalysisResult")
            measurement = self._meter.stop(started)
        except BaseException as exc:  # the meter itself failed; still an outcome, never silence
            outcome = exc
        with self._lock:
            call.measurement = measurement
            call.outcome = outcome
            call.finished = True
            if call.abandoned:
                self._busy.discard(call.analyzer.name)
                log.info("abandoned %s call returned after its deadline", call.analyzer.name)
                return
            outbox.put(call)

    # --- recording ----------------------------------------------------------

    def _record(self, analyzer: Analyzer, measurement: Measurement | None,
                outcome: Outcome) -> ActivityRecorded:
        activity = activity_event(session_id=self._session_id, capability=analyzer.name,
                                  activity_type=analyzer.activity_type, measurement=measurement,
                                  outcome=outcome)
        events: list[Event] = [activity]
        if isinstance(outcome, AnalysisResult):
            events += self._finding_events(analyzer.name, outcome)
        self._emit([Envelope(event) for event in events])
        if activity.success:
            self._consecutive_errors = 0
            self._errors_by_capability[activity.capability] = 0
        else:
            self._consecutive_errors += 1
            self._errors_by_capability[activity.capability] = (
                self._errors_by_capability.get(activity.capability, 0) + 1)
        if self._on_activity is not None:
            try:
                self._on_activity(activity)
            except Exception:  # a console that went away must not end the session
                log.exception("on_activity callback failed")
        return activity

    def _finding_events(self, capability: str, result: AnalysisResult) -> list[Event]:
        events: list[Event] = [
            FindingDetected(
                session_id=self._session_id, fingerprint=safe_text(f.fingerprint),
                capability=safe_text(capability), rule=safe_text(f.rule), path=safe_text(f.path),
                line=f.line, severity=f.severity, confidence=f.confidence,
                message=safe_text(f.message), preview=safe_text(f.preview))
            for f in result.findings
        ]
        events += [FindingResolved(session_id=self._session_id, fingerprint=fingerprint)
                   for fingerprint in result.resolved]
        events += [
            PatternLearned(
                session_id=self._session_id, shape=safe_text(p.shape), fix=safe_text(p.fix),
                path=safe_text(p.path), line=p.line, before_excerpt=safe_text(p.before_excerpt),
                after_excerpt=safe_text(p.after_excerpt))
            for p in result.learned
        ]
        return events
