"""The metrics textfile's content: counts from a real log, rendered by prometheus_client and
read back with its own text parser."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from daemon.log.database import Database
from daemon.log.events import ActivityRecorded, Envelope, FindingDetected, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read.queries import metrics_counts
from daemon.read.render.prometheus import BUCKETS_MS, BUCKETS_S, metrics_registry
from daemon.types import SEVERITIES

from logbuilders import spec_session_log


def families(db: Database) -> dict[str, Metric]:
    text = generate_latest(metrics_registry(metrics_counts(db, BUCKETS_MS))).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(family: Metric, sample: str, **labels: str) -> float:
    [found] = [s.value for s in family.samples if s.name == sample and s.labels == labels]
    return found


def test_the_spec_session_as_metrics(tmp_path: Path) -> None:
    parsed = families(spec_session_log(tmp_path / "log.db"))
    calls, errors = parsed["realworld_calls"], parsed["realworld_call_errors"]
    assert calls.type == errors.type == "counter"
    assert {s.labels["capability"]: s.value for s in calls.samples
            if s.name == "realworld_calls_total"} == {
        "code_search": 2, "security_scanner": 3, "workspace_analyzer": 2}
    assert value(errors, "realworld_call_errors_total", capability="security_scanner") == 2
    duration = parsed["realworld_call_duration_seconds"]
    assert duration.type == "histogram"
    name = "realworld_call_duration_seconds_bucket"
    assert value(duration, name, capability="workspace_analyzer", le="0.25") == 1  # 245 ms
    assert value(duration, name, capability="workspace_analyzer", le="0.5") == 2
    assert value(duration, name, capability="security_scanner", le="1.0") == 0
    assert value(duration, name, capability="security_scanner", le="2.5") == 3
    assert value(duration, name, capability="security_scanner", le="+Inf") == 3
    assert value(duration, "realworld_call_duration_seconds_count",
                 capability="security_scanner") == 3
    assert abs(value(duration, "realworld_call_duration_seconds_sum",
                     capability="security_scanner") - 6.402) < 1e-9
    findings = parsed["realworld_open_findings"]
    assert {s.labels["severity"]: s.value for s in findings.samples} == dict.fromkeys(
        SEVERITIES, 0)
    # The session ended, but nothing scored it yet: recorded as 0, the column's default.
    assert value(parsed["realworld_last_session_score"], "realworld_last_session_score") == 0


def test_an_empty_log_has_no_calls_and_no_score(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "empty.db", create=True)
    catch_up(db)
    parsed = families(db)
    assert not parsed["realworld_calls"].samples
    assert "realworld_last_session_score" not in parsed
    assert len(parsed["realworld_open_findings"].samples) == len(SEVERITIES)


times = st.lists(st.one_of(st.none(), st.floats(0, 120_000, allow_nan=False)), max_size=40)


@settings(max_examples=25, deadline=None)
@given(times, st.lists(st.sampled_from(SEVERITIES), max_size=6))
def test_buckets_are_cumulative_counts_of_the_calls(ms: list[float | None],
                                                    severities: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        db = Database.open(Path(scratch) / "log.db", create=True)
        envelopes = [Envelope(SessionStarted("s", "/w", 1))]
        envelopes += [Envelope(ActivityRecorded("s", f"a{i}", "cap", "run", response_time_ms=t,
                                                success=i % 3 != 0))
                      for i, t in enumerate(ms)]
        envelopes += [Envelope(FindingDetected("s", f"f{i}", "security_scanner", "B1", "a.py",
                                               i, severity, "high"))
                      for i, severity in enumerate(severities)]
        with EventStore(db) as store:
            store.append(envelopes)
        catch_up(db)
        parsed = families(db)
    timed = [t for t in ms if t is not None]
    if ms:
        duration = parsed["realworld_call_duration_seconds"]
        for bound, bound_ms in zip(BUCKETS_S, BUCKETS_MS, strict=True):
            assert value(duration, "realworld_call_duration_seconds_bucket", capability="cap",
                         le=str(bound)) == sum(1 for t in timed if t <= bound_ms)
        assert value(duration, "realworld_call_duration_seconds_count",
                     capability="cap") == len(timed)
        assert value(parsed["realworld_call_errors"], "realworld_call_errors_total",
                     capability="cap") == sum(1 for i in range(len(ms)) if i % 3 == 0)
    assert {s.labels["severity"]: s.value for s in parsed["realworld_open_findings"].samples} \
        == {s: severities.count(s) for s in SEVERITIES}
