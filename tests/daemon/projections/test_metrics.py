"""performance_metrics: one ResourcesSampled becomes the five rows the five MetricSampled of
older logs gave, and every reader of the table sees the same either way."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.cli.report import render_session_report
from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    Event,
    MetricSampled,
    ResourcesSampled,
    SessionEnded,
    SessionStarted,
    format_ts,
    new_id,
    to_payload,
)
from daemon.log.hashchain import canonical_json
from daemon.log.store import EventStore
from daemon.projections.metrics import RESOURCE_MEASURES, resource_metric_id
from daemon.projections.projector import catch_up
from daemon.projections.replay import rebuild
from daemon.projections.verify import verify
from daemon.read.reporting import analysis_dict, load_series
from daemon.run.resources import ResourceSample, sample_event
from daemon.types import ACCURACY, CPU_USAGE, METRIC_TYPES, MS_PER_FILE, RESPONSE_TIME, UX_QUALITY

from conftest import REPO_ROOT

SESSION = "test_20261206_120000"
START = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
#: The columns a reader of a sample's rows sees (metric_id aside: an id, new per event).
COLUMNS = "session_id, timestamp, capability, metric_type, value, unit, context, created_at"


def old_sample_metrics(session_id: str, sample: ResourceSample) -> list[MetricSampled]:
    """How ``daemon.run.resources`` recorded a sample before ResourcesSampled, verbatim:
    logs written then hold these, and must replay to the same rows."""
    measures = (
        ("system", "cpu_usage", sample.cpu_percent, "percent", "system-wide CPU"),
        ("system", "memory_usage", sample.memory_percent, "percent", "system-wide memory"),
        ("system", "disk_usage", sample.disk_percent, "percent", "workspace filesystem"),
        ("realworld", "cpu_usage", sample.process_cpu_percent, "percent", "daemon process"),
        ("realworld", "memory_usage", sample.process_rss_mb, "MB", "daemon process RSS"),
    )
    return [MetricSampled(session_id, new_id(), capability, metric_type, float(value), unit,
                          context)
            for capability, metric_type, value, unit, context in measures]


def sample_at(i: int) -> ResourceSample:
    """Numbers that move, with a leak in them, so trends and charts have something to show."""
    return ResourceSample(cpu_percent=10.0 + i % 7, memory_percent=40.0 + i * 0.1,
                          disk_percent=70.5, process_cpu_percent=2.5 * (i % 3),
                          process_rss_mb=60.0 + i * 1.25)


def session_log(path: Path, samples: Sequence[ResourceSample], *, old_shape: bool) -> Database:
    """A finished session of calls and samples, a minute apart; samples in either shape,
    everything else (ids, times) the same."""
    db = Database.open(path, create=True)
    ts = format_ts
    envelopes = [Envelope(SessionStarted(SESSION, "/work/project", 30), ts=ts(START),
                          event_id="e-start")]
    for i, sample in enumerate(samples):
        at = START + timedelta(minutes=i + 1)
        envelopes.append(Envelope(ActivityRecorded(
            SESSION, f"a-{i}", "code_search", "search", description="Code search: 12ms",
            response_time_ms=12.0 + i, cpu_before=5.0, cpu_after=6.0 + i,
            memory_before_mb=60.0, memory_after_mb=60.0 + i, success=i % 5 != 4,
            result_data={"queries": 10}), ts=ts(at), event_id=f"e-a-{i}"))
        sampled = at + timedelta(seconds=30)
        events: Sequence[Event] = (old_sample_metrics(SESSION, sample) if old_shape
                                   else [sample_event(SESSION, sample)])
        envelopes += [Envelope(e, ts=ts(sampled), event_id=f"e-s-{i}-{n}")
                      for n, e in enumerate(events)]
    end = START + timedelta(minutes=len(samples) + 2)
    envelopes.append(Envelope(SessionEnded(SESSION, "completed", "duration reached"),
                              ts=ts(end), event_id="e-end"))
    with EventStore(db) as store:
        store.append(envelopes)
    catch_up(db)
    return db


#: The rows of resource samples (the calls' own rows are under their capabilities).
SAMPLES = "capability IN ('system', 'realworld')"


def metric_rows(db: Database, columns: str = COLUMNS,
                where: str = "1") -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db.path)
    try:
        return conn.execute(f"SELECT {columns} FROM performance_metrics WHERE {where} "
                            "ORDER BY timestamp, rowid").fetchall()
    finally:
        conn.close()


def test_a_sample_is_one_compact_event_carrying_every_measure() -> None:
    sample = ResourceSample(cpu_percent=25.3, memory_percent=42.1, disk_percent=70.0,
                            process_cpu_percent=3.5, process_rss_mb=88.25)
    event = sample_event("s-1", sample)
    assert event == ResourcesSampled("s-1", cpu=25.3, mem=42.1, disk=70.0, proc_cpu=3.5,
                                     rss_mb=88.25)
    new_bytes = len(canonical_json(to_payload(event)))
    old_bytes = sum(len(canonical_json(to_payload(e))) for e in old_sample_metrics("s", sample))
    assert new_bytes < 80 < old_bytes / 5  # the five numbers; no ids, units or contexts
    # Every field of the event is one measure of the table, and the other way round.
    assert [m.field for m in RESOURCE_MEASURES] == [
        f.name for f in dataclasses.fields(ResourcesSampled) if f.name != "session_id"]


def test_a_sample_gives_the_rows_the_five_old_events_gave(tmp_path: Path) -> None:
    samples = [sample_at(i) for i in range(12)]
    old = session_log(tmp_path / "old.db", samples, old_shape=True)
    new = session_log(tmp_path / "new.db", samples, old_shape=False)
    assert metric_rows(new) == metric_rows(old)
    assert len(metric_rows(new, where=SAMPLES)) == 5 * len(samples)
    ids = [r[0] for r in metric_rows(new, "metric_id", SAMPLES)]
    assert ids[:5] == [resource_metric_id("e-s-0-0", n) for n in range(1, 6)]
    assert len(set(ids)) == len(ids)


def test_every_reader_of_the_table_sees_the_same(tmp_path: Path) -> None:
    samples = [sample_at(i) for i in range(12)]
    old = session_log(tmp_path / "old.db", samples, old_shape=True)
    new = session_log(tmp_path / "new.db", samples, old_shape=False)
    # The analysis the API hands out (system resources, memory trend, scores, issues) ...
    assert analysis_dict(new, SESSION) == analysis_dict(old, SESSION)
    assert analysis_dict(new, SESSION)["memory_trend"]["samples"] == 12
    # ... the charts' series and the reports in every format.
    assert load_series(new, SESSION) == load_series(old, SESSION)
    for fmt in ("text", "markdown", "json", "html", "sarif"):
        report = render_session_report(new, SESSION, fmt)
        assert report == render_session_report(old, SESSION, fmt), fmt
    html = render_session_report(new, SESSION, "html")
    assert "No CPU or memory samples recorded" not in html  # the charts have their points
    assert json.loads(render_session_report(new, SESSION, "json"))["session"]["session_id"] \
        == SESSION


def test_catch_up_and_replay_write_the_same_rows(tmp_path: Path) -> None:
    db = session_log(tmp_path / "new.db", [sample_at(i) for i in range(3)], old_shape=False)
    live = metric_rows(db, "*")
    rebuild(db)
    assert metric_rows(db, "*") == live
    report = verify(db)
    assert report.ok, report


def test_an_old_log_of_metric_sampled_events_still_replays(tmp_path: Path) -> None:
    # A log as the release before ResourcesSampled wrote it: five MetricSampled a sample.
    db = session_log(tmp_path / "old.db", [sample_at(i) for i in range(4)], old_shape=True)
    live = metric_rows(db, "*")
    assert [r[2:7] for r in metric_rows(db, where=SAMPLES)[:5]] == [
        ("system", "cpu_usage", 10.0, "percent", "system-wide CPU"),
        ("system", "memory_usage", 40.0, "percent", "system-wide memory"),
        ("system", "disk_usage", 70.5, "percent", "workspace filesystem"),
        ("realworld", "cpu_usage", 0.0, "percent", "daemon process"),
        ("realworld", "memory_usage", 60.0, "MB", "daemon process RSS")]
    rebuild(db)
    assert metric_rows(db, "*") == live
    report = verify(db)
    assert report.ok, report


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.builds(ResourceSample, finite, finite, finite, finite, finite),
                min_size=1, max_size=6))
def test_for_any_samples_both_shapes_give_the_same_rows(samples: list[ResourceSample]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rw-metrics-") as tmp:
        old = session_log(Path(tmp) / "old.db", samples, old_shape=True)
        new = session_log(Path(tmp) / "new.db", samples, old_shape=False)
        assert metric_rows(new) == metric_rows(old)


def test_a_real_session_has_every_metric_type_and_rebuild_and_verify_agree(
        tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "core.py").write_text(
        "import subprocess\n\n\ndef add(a, b):\n    return a + b\n\n\n"
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    (project / "README.md").write_text("# demo\n")
    db_path = tmp_path / "log.db"
    config = tmp_path / "relaxed.toml"  # this shared machine's CPU may sit above 90 %
    config.write_text("[resource_limits]\ncpu_percent_max = 100.0\n"
                      "memory_percent_max = 100.0\ndisk_percent_max = 100.0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    env.update(PYTHONPATH=str(REPO_ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))

    def realworld(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "daemon", *argv, "--db", str(db_path),
                               "--config", str(config)], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=120, check=False)

    done = realworld("run", "--project", str(project), "--once", "--quiet", "--no-report")
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db_path)
    try:
        found = {metric_type: conn.execute(
            "SELECT capability, value, unit FROM performance_metrics WHERE metric_type = ?",
            (metric_type,)).fetchall() for metric_type in METRIC_TYPES}
        calls = conn.execute("SELECT COUNT(*) FROM activities WHERE response_time_ms IS NOT NULL"
                             ).fetchone()[0]
    finally:
        conn.close()
    assert all(found.values()), {t: len(r) for t, r in found.items()}
    assert len(found[RESPONSE_TIME]) == calls
    assert {c for c, _, _ in found[MS_PER_FILE]} == {"code_indexer", "security_scanner"}
    assert "code_search" in {c for c, _, _ in found[ACCURACY]}
    assert all(0.0 <= v <= 1.0 for _, v, _ in found[ACCURACY] + found[UX_QUALITY])
    ceiling = 100.0 * (os.cpu_count() or 1)
    assert all(0.0 <= v <= ceiling for _, v, _ in found[CPU_USAGE])
    before = metric_rows(Database.open(db_path), "*")
    assert realworld("rebuild").returncode == 0
    assert metric_rows(Database.open(db_path), "*") == before
    checked = realworld("verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
