"""``continuous``: watch a copy of the project while a driver edits it for the duration.

Every edit defines a new, uniquely named function (appended to an existing module, or in
a new one); every third also calls ``subprocess`` with ``shell=True``, which the security
scanner must report. An edit is *analyzed* once the code index defines its function at
its path; the time from the write to that moment is its pickup latency. Memory is
judged after the first pass (loading the index is warm-up, not a leak) with the
project's own least-squares trend (:func:`daemon.read.analysis.aggregate.memory_trend`).

``--duration`` bounds the session: the first pass (until the analyzers have no files
left over), then the edits spread over most of what is left, then a last share for the
analyzers to catch up with them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzers.common.pyparse import parse_python
from analyzers.common.walk import list_workspace
from daemon.read.analysis.aggregate import memory_trend
from daemon.read.analysis.rows import epoch
from daemon.read.analysis.stats import percentile
from daemon.scenarios import harness
from daemon.scenarios.scratch import scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Outcome, Unmeasured, metrics_of

NAME = "continuous"
SECONDS_PER_EDIT = 5.0
MIN_EDITS = 3
RISKY_EVERY = 3
RISKY_RULE = "B602"  # bandit: subprocess call with shell=True
PICKUP_GRACE_S = 15.0  # after the edits, the most one late edit is waited for

BARS = (
    Bar("edits_analyzed", "min", 1.0, "every edit is indexed (its new function is searchable)"),
    Bar("planted_findings_found", "min", 1.0,
        "every planted shell=True call is reported by the security scanner"),
    Bar("pickup_p95_ms", "max", 10_000.0, "an edit is analyzed within 10 s"),
    harness.ERROR_RATE_BAR,
    Bar("rss_growth_mb", "max", 20.0,
        "fitted RSS growth after warm-up; the analysis ignores less than 20 MB as warm-up"),
    harness.BACKLOG_BAR,
)


@dataclass(frozen=True)
class Edit:
    number: int
    path: str  # relative, '/'-separated
    symbol: str
    create: bool  # a new module rather than an append
    risky: bool

    def text(self) -> str:
        body = ("    import subprocess\n\n    return subprocess.call(value, shell=True)\n"
                if self.risky else f"    return [value, {self.number}]\n")
        return f"\n\ndef {self.symbol}(value):\n{body}"


def plan_edits(modules: Sequence[str], count: int, seed: int) -> list[Edit]:
    """Alternate appends to existing modules and new modules (pure, seeded)."""
    chooser = random.Random(seed)
    plan: list[Edit] = []
    for number in range(count):
        create = not modules or number % 2 == 1
        path = (f"realworld_scenario/edit_{number:04d}.py" if create
                else chooser.choice(list(modules)))
        plan.append(Edit(number, path, f"realworld_edit_{number:04d}", create,
                         risky=number % RISKY_EVERY == RISKY_EVERY - 1))
    return plan


def default_edits(duration_s: float) -> int:
    return max(MIN_EDITS, int(duration_s / SECONDS_PER_EDIT))


def parsable_modules(root: Path) -> list[str]:
    """Python modules an appended function can be indexed in (so a miss is the daemon's)."""
    found: list[str] = []
    for path in list_workspace(root).files:
        if not path.endswith(".py"):
            continue
        file = root / path
        try:
            if file.is_symlink() or not file.is_file():
                continue
            parse_python(file.read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        found.append(path)
    return found


def apply(root: Path, edit: Edit) -> None:
    target = root / edit.path
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(edit.text())


def run(settings: Settings) -> Outcome:
    workspace = scratch_copy(settings.project, settings.workdir / "continuous")
    count = settings.edits if settings.edits is not None else default_edits(settings.duration_s)
    plan = plan_edits(parsable_modules(workspace), count, settings.seed)
    index = harness.index_path(settings)
    tester = harness.open_tester(settings,
                                 monitor_interval=harness.sample_interval(settings.duration_s))
    pickup_ms: dict[int, float] = {}
    try:
        deadline = harness.Deadline.after(settings.duration_s)
        session_id = tester.start_test_session(workspace, 0, mode="continuous")
        left = harness.drained(tester, session_id, deadline)
        warm = harness.rows(settings.db_path, "SELECT MAX(timestamp) AS t FROM activities "
                                              "WHERE session_id = ?", (session_id,))
        warmed_at = str(warm[0]["t"] or "") if warm else ""
        started = time.monotonic()
        window = harness.edit_window(deadline.left())
        gap = window / (len(plan) + 1)
        for edit in plan:
            due = started + gap * (edit.number + 1)
            time.sleep(max(0.0, due - time.monotonic()))
            written = time.monotonic()
            apply(workspace, edit)
            next_due = started + gap * (edit.number + 2)
            if harness.wait_until(_indexed(index, workspace, edit),
                                  max(0.0, next_due - time.monotonic())):
                pickup_ms[edit.number] = (time.monotonic() - written) * 1000.0
        time.sleep(max(0.0, started + window - time.monotonic()))
        for edit in plan:
            if edit.number not in pickup_ms:
                written = time.monotonic()
                if harness.wait_until(_indexed(index, workspace, edit),
                                      min(PICKUP_GRACE_S, deadline.left())):
                    # Counted from the end of the run: a lower bound on its real latency.
                    pickup_ms[edit.number] = (time.monotonic() - written) * 1000.0 + (
                        gap * 1000.0)
        # The scanner runs beside the indexer: it gets what is left of the duration.
        risky = [e for e in plan if e.risky]
        harness.wait_until(lambda: len(_planted_found(settings.db_path, session_id, risky))
                           == len(risky), deadline.left())
        tester.stop_session(session_id)
    finally:
        tester.close()
    return _outcome(settings.db_path, session_id, plan, pickup_ms, warmed_at, workspace,
                    left)


def _indexed(index: Path, workspace: Path, edit: Edit) -> Callable[[], bool]:
    return lambda: harness.defined_in_index(index, workspace, edit.symbol, edit.path)


def _planted_found(db_path: Path, session_id: str, risky: Sequence[Edit]) -> set[str]:
    paths = {e.path for e in risky}
    found = harness.rows(db_path, "SELECT DISTINCT path FROM findings WHERE session_id = ? "
                                  "AND rule = ?", (session_id, RISKY_RULE))
    return {str(r["path"]) for r in found} & paths


def _outcome(db_path: Path, session_id: str, plan: Sequence[Edit],
             pickup_ms: dict[int, float], warmed_at: str, workspace: Path,
             left: harness.Backlog) -> Outcome:
    activities = harness.rows(db_path, "SELECT * FROM activities WHERE session_id = ? "
                                       "ORDER BY timestamp", (session_id,))
    session = harness.rows(db_path, "SELECT * FROM test_sessions WHERE session_id = ?",
                           (session_id,))[0]
    metrics = harness.rows(db_path, "SELECT * FROM performance_metrics WHERE session_id = ? "
                                    "AND timestamp >= ? ORDER BY timestamp",
                           (session_id, warmed_at))
    worked = harness.analyzer_calls(activities)
    recoveries = sum(1 for a in activities if a["capability"] == "error_recovery")
    indexed = sum(_files_indexed(a) for a in worked if a["capability"] == "code_indexer")
    minutes = _minutes(str(session["start_time"]), str(session["end_time"] or ""))
    trend = memory_trend([a for a in activities if str(a["timestamp"]) >= warmed_at], metrics)
    findings = harness.scalar(db_path, "SELECT COUNT(*) FROM findings WHERE session_id = ?",
                              (session_id,))
    risky = [e for e in plan if e.risky]
    found = _planted_found(db_path, session_id, risky)
    latencies = list(pickup_ms.values())
    values = {
        "edits": (len(plan), ""),
        "edits_analyzed": (len(pickup_ms) / len(plan) if plan else 1.0, "ratio"),
        "pickup_p95_ms": (percentile(latencies, 95) if latencies
                          else Unmeasured("no edit was analyzed"), "ms"),
        "files_indexed_per_minute": (indexed / minutes if minutes > 0 else 0.0, "files/min"),
        "findings": (findings, ""),
        "planted_findings_found": (len(found) / len(risky) if risky else 1.0, "ratio"),
        "activities": (len(worked), ""),
        "error_rate": (harness.error_rate(worked), "ratio"),
        "recovery_events": (recoveries, ""),
        "rss_slope_mb_per_hour": (trend.slope_mb_per_hour, "MB/h"),
        "rss_growth_mb": (trend.growth_mb, "MB"),
        harness.BACKLOG: (left.files, "files"),
    }
    missed = [e.path for e in plan if e.number not in pickup_ms]
    notes = [f"workspace: a copy at {workspace}",
             f"memory trend after warm-up: {trend.samples} samples over "
             f"{trend.span_minutes:.1f} min (R² {trend.r_squared:.2f})",
             *harness.backlog_note(left)]
    if missed:
        notes.append(f"not analyzed: {', '.join(missed[:5])}"
                     f"{' ...' if len(missed) > 5 else ''}")
    return Outcome(metrics_of(values), tuple(notes), (session_id,))


def _files_indexed(activity: dict[str, object]) -> int:
    try:
        data = json.loads(str(activity.get("result_data") or "{}"))
    except ValueError:
        return 0
    value = data.get("files_indexed", 0) if isinstance(data, dict) else 0
    return int(value) if isinstance(value, (int, float)) else 0


def _minutes(start: str, end: str) -> float:
    begun, ended = epoch(start), epoch(end)
    if begun is None or ended is None:
        return 0.0
    return max(0.0, ended - begun) / 60.0
