"""A resource sample and the one event it becomes."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from daemon.log.database import Database
from daemon.log.events import Envelope, ResourcesSampled, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.run.resources import (
    RECORD_AT_LEAST_EVERY,
    RECORD_WHEN_MOVED,
    ResourceSample,
    is_news,
    sample_event,
)
from daemon.run.sampler import ResourceSampler


def test_a_sample_becomes_one_event_with_every_measure() -> None:
    sample = ResourceSample(cpu_percent=25.3, memory_percent=42.1, disk_percent=70.0,
                            process_cpu_percent=3.5, process_rss_mb=88.25)
    event = sample_event("s-1", sample)
    assert isinstance(event, ResourcesSampled) and event.session_id == "s-1"
    assert (event.cpu, event.mem, event.disk, event.proc_cpu, event.rss_mb) == (
        25.3, 42.1, 70.0, 3.5, 88.25)


def test_the_event_lands_in_performance_metrics_as_five_rows(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "log.db", create=True)
    sample = ResourceSampler(tmp_path).sample()
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("s-1", str(tmp_path), 1)),
                      Envelope(sample_event("s-1", sample))])
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
    assert rows[1][2] == sample.process_rss_mb


# --- which samples a continuous session appends -----------------------------------------

measures = st.floats(0, 1e4, allow_nan=False)
samples = st.builds(ResourceSample, measures, measures, measures, measures, measures)


@given(samples)
def test_the_first_sample_is_always_news(sample: ResourceSample) -> None:
    assert is_news(None, sample, 0)


@given(samples, st.integers(0, RECORD_AT_LEAST_EVERY - 1))
def test_the_same_sample_again_is_no_news_until_the_heartbeat(sample: ResourceSample,
                                                              since: int) -> None:
    assert not is_news(sample, sample, since)
    assert is_news(sample, sample, RECORD_AT_LEAST_EVERY)


@given(samples, st.sampled_from([f.name for f in fields(ResourceSample)]),
       st.booleans())
def test_a_measure_that_moved_past_its_band_is_news(sample: ResourceSample, name: str,
                                                    up: bool) -> None:
    band = getattr(RECORD_WHEN_MOVED, name)
    moved = replace(sample, **{name: getattr(sample, name) + (band if up else -band) * 1.01})
    assert is_news(sample, moved, 0)
    within = replace(sample, **{name: getattr(sample, name) + band / 2})
    assert not is_news(sample, within, 0)
