"""The metrics textfile on disk: written atomically from a real log, read back with
prometheus_client's parser; a failure is one warning and the daemon goes on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog
from prometheus_client.parser import text_string_to_metric_families

from analyzers.common.private_files import tighten_umask
from daemon.service.metrics_file import MetricsFile

from logbuilders import spec_session_log


def test_the_file_is_written_whole_and_readable_by_the_collector(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "log.db")
    target = tmp_path / "textfile" / "realworld.prom"
    target.parent.mkdir()
    previous = tighten_umask()
    try:
        assert MetricsFile(target).write(db)
        assert MetricsFile(target).write(db)  # replaced, not appended to
    finally:
        os.umask(previous)
    names = {f.name for f in text_string_to_metric_families(target.read_text())}
    assert names >= {"realworld_calls", "realworld_call_errors",
                     "realworld_call_duration_seconds", "realworld_open_findings"}
    assert [p.name for p in target.parent.iterdir()] == ["realworld.prom"]  # no temp left
    # For node_exporter, another user: counts only, readable by all, writable by us.
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_file_that_cannot_be_written_is_one_warning(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "log.db")
    metrics = MetricsFile(tmp_path / "missing-dir" / "realworld.prom")
    with structlog.testing.capture_logs() as logs:
        assert not metrics.write(db)
        assert not metrics.write(db)  # the same failure again: not said again
    assert [e["event"] for e in logs] == ["metrics_not_written"]
    (tmp_path / "missing-dir").mkdir()
    assert metrics.write(db)


def test_refreshes_write_at_most_once_an_interval_and_only_after_a_change(
        tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "log.db")
    now = [100.0]
    metrics = MetricsFile(tmp_path / "realworld.prom", min_interval_s=10.0,
                          clock=lambda: now[0])

    def inode() -> int | None:
        return metrics.path.stat().st_ino if metrics.path.exists() else None

    metrics.refreshed(db, moved=False)
    assert inode() is None  # nothing moved: nothing to write
    metrics.refreshed(db, moved=True)
    first = inode()
    assert first is not None  # each write is a new file renamed over the old one
    now[0] += 3.0
    metrics.refreshed(db, moved=True)
    assert inode() == first  # within the interval: later
    now[0] += 8.0
    metrics.refreshed(db, moved=False)  # the change 8 s ago is written now
    second = inode()
    assert second not in (None, first)
    now[0] += 30.0
    metrics.refreshed(db, moved=False)
    assert inode() == second  # nothing changed since


def test_later_writes_count_only_new_calls_and_add_up_to_a_full_count(tmp_path: Path) -> None:
    from daemon.read.queries import metrics_counts
    from daemon.read.render.prometheus import BUCKETS_MS

    from sessionlogs import add_session

    db = spec_session_log(tmp_path / "log.db")
    metrics = MetricsFile(tmp_path / "realworld.prom")
    assert metrics.write(db)
    first = metrics_counts(db, BUCKETS_MS)
    add_session(db.path, "later", [("code_search", 3.0, True), ("code_search", 900.0, False),
                                   ("pattern_probe", 40.0, True)])
    # What the second write reads: the three new calls only.
    new = metrics_counts(db, BUCKETS_MS, first.last_row)
    assert sum(c.calls for c in new.capabilities) == 3
    assert metrics.write(db)
    families = {f.name: f for f in text_string_to_metric_families(metrics.path.read_text())}
    written = {s.labels["capability"]: s.value for s in families["realworld_calls"].samples
               if s.name == "realworld_calls_total"}
    full = metrics_counts(db, BUCKETS_MS)
    assert written == {c.capability: float(c.calls) for c in full.capabilities}
    buckets = {(s.labels["capability"], s.labels["le"]): s.value
               for s in families["realworld_call_duration_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets[("code_search", "+Inf")] == next(
        c.timed for c in full.capabilities if c.capability == "code_search")
