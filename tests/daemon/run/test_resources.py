"""A resource sample and the metric events it becomes."""

from __future__ import annotations

from pathlib import Path

from daemon.log.database import Database
from daemon.log.events import Envelope, MetricSampled, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.run.resources import ResourceSample, sample_metrics
from daemon.run.sampler import ResourceSampler


def test_a_sample_becomes_five_metric_events() -> None:
    sample = ResourceSample(cpu_percent=25.3, memory_percent=42.1, disk_percent=70.0,
                            process_cpu_percent=3.5, process_rss_mb=88.25)
    events = sample_metrics("s-1", sample)
    assert all(isinstance(e, MetricSampled) and e.session_id == "s-1" for e in events)
    assert [(e.capability, e.metric_type, e.value, e.unit) for e in events] == [
        ("system", "cpu_usage", 25.3, "percent"),
        ("system", "memory_usage", 42.1, "percent"),
        ("system", "disk_usage", 70.0, "percent"),
        ("realworld", "cpu_usage", 3.5, "percent"),
        ("realworld", "memory_usage", 88.25, "MB"),
    ]
    assert len({e.metric_id for e in events}) == 5


def test_the_events_land_in_performance_metrics(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "log.db", create=True)
    sample = ResourceSampler(tmp_path).sample()
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("s-1", str(tmp_path), 1)),
                      *(Envelope(e) for e in sample_metrics("s-1", sample))])
    catch_up(db)
    conn = db.connect_readonly()
    try:
        rows = conn.execute("SELECT capability, metric_type, value, unit FROM "
                            "performance_metrics WHERE session_id = 's-1' "
                            "ORDER BY capability, metric_type").fetchall()
    finally:
        conn.close()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("realworld", "cpu_usage", "percent"), ("realworld", "memory_usage", "MB"),
        ("system", "cpu_usage", "percent"), ("system", "disk_usage", "percent"),
        ("system", "memory_usage", "percent")]
    assert rows[3][2] == sample.disk_percent
