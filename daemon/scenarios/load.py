"""``load``: index 1,000+ files, then search 100+ real symbols while the daemon analyzes edits.

The copy is replicated inside itself (``replica_2/`` ...) until it holds ``--files``
files, so a small project still gives the full load (the note says so). The session's
first pass indexes them with all five analyzers (call after call while an analyzer's
time budget leaves files over, as the log's ``pending``/``deferred`` show; bounded by
``--duration``); then ``--concurrency`` threads search
symbols sampled from that index (full ranked search, as ``realworld search`` does) while
a driver edits as many files, so every analyzer runs on the edits beside the searches.
Concurrency is measured, not assumed: the peak number of overlapping operations
(searches and the session's analyzer calls, from the log) and the capabilities that ran
during the load window.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from analyzers.code_index.query import search
from analyzers.code_index.store import IndexStore
from daemon.app.tester import RealWorldTester
from daemon.read.analysis.rows import epoch
from daemon.read.analysis.stats import mean, percentile
from daemon.scenarios import harness
from daemon.scenarios.continuous import Edit, apply, parsable_modules
from daemon.scenarios.rss import RssSampler
from daemon.scenarios.scratch import ProjectError, replicate, scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Metric, Outcome, Unmeasured, metrics_of

NAME = "load"
#: An upper bound: the run ends once the searches are done. A cold first pass over the
#: standard library replicated to 1,500 files takes a few minutes on two cores.
DEFAULT_DURATION_S = 600.0
SETTLE_GRACE_S = 30.0  # at most, for the analyzers to reach the load's edits
CAPABILITIES = 5  # the five analyzers

BARS = (
    Bar("files_indexed", "min", 1000.0, "the spec: index 1000+ files (follows --files)"),
    Bar("searches", "min", 100.0, "the spec: 100+ searches (follows --searches)"),
    Bar("search_p95_ms", "max", 500.0, "the spec's 'excellent' response time is under 500 ms"),
    Bar("throughput_ops_s", "min", 20.0, "searches per second with the analyzers busy"),
    Bar("peak_concurrent_ops", "min", 5.0,
        "the spec: 5+ concurrent operations (follows --concurrency)"),
    Bar("capabilities_under_load", "min", 5.0, "every analyzer ran during the load"),
    Bar("peak_rss_mb", "max", 1024.0, "this process and its workers, at the worst moment"),
    harness.ERROR_RATE_BAR,
    harness.BACKLOG_BAR,
)

Interval = tuple[float, float, str]  # (start, end) seconds since the epoch, capability


def bars_for(settings: Settings) -> dict[str, float]:
    """The bars that follow the scale asked for: asking for 200 files means 200 files."""
    return {"files_indexed": float(settings.files), "searches": float(settings.searches),
            "peak_concurrent_ops": float(settings.concurrency)}


def peak_overlap(intervals: Sequence[Interval]) -> int:
    """The most intervals open at one instant (an end at t closes before a start at t)."""
    edges = sorted([(s, 1) for s, _, _ in intervals] + [(e, -1) for _, e, _ in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def active_in(intervals: Sequence[Interval], start: float, end: float) -> set[str]:
    return {cap for s, e, cap in intervals if s < end and e > start}


def activity_intervals(activities: Sequence[dict[str, object]]) -> list[Interval]:
    """An activity is recorded when its call ends; it began response_time_ms before."""
    found: list[Interval] = []
    for row in activities:
        end = epoch(row.get("timestamp"))
        ms = row.get("response_time_ms")
        if end is None or not isinstance(ms, (int, float)):
            continue
        found.append((end - float(ms) / 1000.0, end, str(row.get("capability"))))
    return found


def sample_symbols(store: IndexStore, workspace: Path, count: int, seed: int) -> list[str]:
    """``count`` symbol names drawn uniformly from the workspace's part of the index."""
    workspace_id = store.workspace_id(str(workspace))
    span = store.symbol_id_range()
    if workspace_id is None or span is None:
        return []
    chooser = random.Random(seed)
    names: list[str] = []
    for _ in range(count * 4):
        row = store.symbol_at_or_after(chooser.randint(*span), workspace_id)
        if row is not None:
            names.append(row.name)
        if len(names) == count:
            break
    return names


class _Searcher:
    """One read-only index connection per thread (SQLite connections are not shared)."""

    def __init__(self, index: Path, workspace: Path) -> None:
        self._index = index
        self._workspace = str(workspace)
        self._local = threading.local()
        self._stores: list[IndexStore] = []
        self._lock = threading.Lock()

    def __call__(self, name: str) -> tuple[float, float, int]:
        store: IndexStore | None = getattr(self._local, "store", None)
        if store is None:
            store = IndexStore.open(self._index, readonly=True)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        began = time.time()
        hits = search(store, name, workspace=self._workspace)
        return began, time.time(), len(hits)

    def close(self) -> None:
        for store in self._stores:
            store.close()


def _search_all(searcher: _Searcher, names: Sequence[str], workers: int,
                busy: Callable[[], bool]) -> list[tuple[float, float, int]]:
    """``workers`` threads search ``names`` (each at least once, round and round while
    ``busy()`` says the daemon still analyzes the edits). They start together at a
    barrier, so the load is concurrent from its first search."""
    results: list[tuple[float, float, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)
    taken = itertools.count()

    def worker() -> None:
        barrier.wait()
        while True:
            with lock:
                number = next(taken)
            if not names or (number >= len(names) and not busy()):
                return
            try:
                timed = searcher(names[number % len(names)])
            except Exception as exc:  # reported after the join, not lost in a thread
                with lock:
                    errors.append(exc)
                return
            with lock:
                results.append(timed)

    threads = [threading.Thread(target=worker, name=f"realworld-load-{n}", daemon=True)
               for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class _Latch:
    """``busy()`` from many threads, asking the log at most every 0.2 s; once not busy,
    never busy again."""

    def __init__(self, check: Callable[[], bool]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._asked = 0.0
        self._busy = True

    def __call__(self) -> bool:
        with self._lock:
            if self._busy and time.monotonic() - self._asked >= 0.2:
                self._asked = time.monotonic()
                self._busy = self._check()
            return self._busy


def run(settings: Settings) -> Outcome:
    workspace = scratch_copy(settings.project, settings.workdir / "load")
    files, copies = replicate(workspace, settings.files)
    if files == 0:
        raise ProjectError(f"project {settings.project} has no files to index")
    index = harness.index_path(settings)
    notes = [f"workspace: a copy of {settings.project}"
             + (f", replicated {copies} times to {files} files" if copies > 1
                else f" ({files} files)")]
    tester = harness.open_tester(settings, monitor_interval=5.0)
    with RssSampler() as rss:
        try:
            began = time.monotonic()
            deadline = harness.Deadline.after(settings.duration_s)
            session_id = tester.start_test_session(workspace, 0, mode="continuous")
            left = harness.drained(tester, session_id, deadline)
            index_s = time.monotonic() - began
            notes += harness.backlog_note(left)
            indexed = len(harness.indexed_paths(index, workspace))
            with IndexStore.open(index, readonly=True) as store:
                names = sample_symbols(store, workspace, settings.searches, settings.seed)
            if not names:
                notes.append("the index holds no symbols to search for")
            modules = parsable_modules(workspace)
            edits = [Edit(n, path, f"realworld_load_{n:04d}", False, n % 3 == 2)
                     for n, path in enumerate(random.Random(settings.seed).sample(
                         modules, min(settings.concurrency, len(modules))))]
            searcher = _Searcher(index, workspace)
            load_start = time.time()
            for edit in edits:
                apply(workspace, edit)
            # What is left of --duration, up to a grace: every search runs once even when
            # nothing is left (the spec's count), but nothing waits past the end.
            settle = harness.Deadline.after(min(SETTLE_GRACE_S, deadline.left()))
            # The load is the searches *and* the daemon analyzing the edits: searching
            # goes on until every analyzer has recorded its call on them (or time is up).
            busy = _Latch(lambda: settle.left() > 0 and _analyzers_since(
                tester, settings.db_path, session_id, load_start) < CAPABILITIES)
            try:
                timed = _search_all(searcher, names, settings.concurrency, busy)
            finally:
                searcher.close()
            search_end = time.time()
            harness.wait_until(lambda: not busy(), settle.left(), 0.2)
            harness.wait_until(lambda: all(harness.defined_in_index(
                index, workspace, e.symbol, e.path) for e in edits), settle.left())
            load_end = time.time()
            activities = harness.rows(settings.db_path,
                                      "SELECT * FROM activities WHERE session_id = ?",
                                      (session_id,))
            outcome = _measure(settings, timed, activities, (indexed, left.files), index_s,
                               (load_start, search_end, load_end), rss.peak_mb)
            harness.record_metrics(settings.db_path, session_id, NAME, outcome)
            tester.stop_session(session_id)
        finally:
            tester.close()
    return Outcome(outcome, tuple(notes), (session_id,))


def _analyzers_since(tester: RealWorldTester, db_path: Path, session_id: str,
                     since: float) -> int:
    tester.catch_up()
    found = harness.rows(db_path, "SELECT capability, timestamp FROM activities "
                                  "WHERE session_id = ? AND capability != 'error_recovery'",
                         (session_id,))
    return len({r["capability"] for r in found if (epoch(r["timestamp"]) or 0.0) >= since})


def _measure(settings: Settings, timed: Sequence[tuple[float, float, int]],
             activities: Sequence[dict[str, object]], first_pass: tuple[int, int],
             index_s: float, window: tuple[float, float, float],
             peak_rss_mb: float) -> tuple[Metric, ...]:
    indexed, backlog = first_pass
    load_start, search_end, load_end = window
    no_search = Unmeasured("no search ran: the index held no symbols")
    latencies = [(end - start) * 1000.0 for start, end, _ in timed]
    searches: list[Interval] = [(s, e, "code_search") for s, e, _ in timed]
    worked = harness.analyzer_calls(activities)
    calls = activity_intervals(worked)
    under_load = [c for c in calls if c[0] < load_end and c[1] > load_start]
    search_s = max(search_end - load_start, 1e-9)
    analyzer_s = [e - s for s, e, _ in calls]
    return metrics_of({
        "files_indexed": (indexed, "files"),
        "index_seconds": (index_s, "s"),
        "index_files_per_s": (indexed / index_s if index_s > 0 else 0.0, "files/s"),
        "searches": (len(timed), ""),
        "search_mean_ms": (mean(latencies) if latencies else no_search, "ms"),
        "search_p95_ms": (percentile(latencies, 95) if latencies else no_search, "ms"),
        "throughput_ops_s": (len(timed) / search_s, "ops/s"),
        "analyzer_p95_ms": (percentile([s * 1000.0 for s in analyzer_s], 95)
                            if analyzer_s else Unmeasured("no analyzer call was recorded"),
                            "ms"),
        "peak_concurrent_ops": (peak_overlap(searches + under_load), ""),
        "capabilities_under_load": (len(active_in(searches + calls, load_start, load_end)),
                                    ""),
        "peak_rss_mb": (peak_rss_mb, "MB"),
        "error_rate": (harness.error_rate(worked), "ratio"),
        harness.BACKLOG: (backlog, "files"),
    })

