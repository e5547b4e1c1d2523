"""The read side's questions to the projections, on real logs written through the EventStore."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from daemon.log.database import Database
from daemon.log.events import Envelope, FindingDetected, FindingResolved, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read import queries

from sessionlogs import START, add_session


def two_sessions(tmp_path: Path) -> Database:
    """``old`` (completed, three calls) and ``new`` (running, one failed call) a day later."""
    path = tmp_path / "log.db"
    add_session(path, "old", [("code_search", 10.0, True), ("code_search", 30.0, True),
                              ("code_indexer", 50.0, True)])
    return add_session(path, "new", [("code_search", 20.0, False)], status=None,
                       start=START + timedelta(days=1),
                       findings=[FindingDetected("new", "fp-low", "pattern_probe", "P1", "b.py",
                                                 3, "low", "medium", "smell"),
                                 FindingDetected("new", "fp-high", "security_scanner", "B105",
                                                 "a.py", 9, "high", "medium", "password")])


def test_sessions_newest_first_and_the_running_ones(tmp_path: Path) -> None:
    db = two_sessions(tmp_path)
    assert [s["session_id"] for s in queries.list_sessions(db)] == ["new", "old"]
    assert [s["session_id"] for s in queries.list_sessions(db, limit=1)] == ["new"]
    [running] = queries.running_sessions(db)
    assert running["session_id"] == "new" and running["mode"] == "timed"
    assert queries.latest_session_id(db) == "new"
    assert queries.session_known(db, "old") and not queries.session_known(db, "nope")
    assert queries.project_path(db, "old") == "/work/project"
    assert queries.project_path(db, "nope") is None


def test_an_empty_log_has_no_latest_session(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "empty.db", create=True)
    assert queries.latest_session_id(db) is None
    assert queries.list_sessions(db) == [] and queries.running_sessions(db) == []


def test_figures_of_chosen_sessions(tmp_path: Path) -> None:
    db = two_sessions(tmp_path)
    assert [r["session_id"] for r in queries.session_rows(db, ["new", "old"])] == ["old", "new"]
    assert tuple(queries.session_rows(db, ["old"])[0]) == queries.SESSION_COLUMNS
    by_capability = {r["capability"]: r for r in queries.capability_rows(db, ["old", "new"])}
    assert (by_capability["code_search"]["calls"], by_capability["code_search"]["successes"]) \
        == (3, 2)
    assert sorted(queries.response_times(db, ["old"])) == [
        ("code_indexer", 50.0), ("code_search", 10.0), ("code_search", 30.0)]
    recent = queries.recent_activities(db, ["old", "new"], limit=2)
    assert [r["session_id"] for r in recent] == ["new", "old"]
    for ask in (queries.session_rows, queries.capability_rows, queries.response_times,
                queries.recent_activities):
        assert ask(db, []) == []


def test_a_sessions_records(tmp_path: Path) -> None:
    db = two_sessions(tmp_path)
    records = queries.session_records(db, "old")
    assert records is not None and records.session["session_id"] == "old"
    assert [a["response_time_ms"] for a in records.activities] == [10.0, 30.0, 50.0]
    # Its three calls' response times (and their other per-call rows) are its metrics.
    assert sorted(m["value"] for m in records.metrics if m["metric_type"] == "response_time") \
        == [10.0, 30.0, 50.0]
    series = queries.series_records(db, "old")
    assert series is not None and len(series.activities) == 3
    assert queries.session_records(db, "nope") is None
    assert queries.series_records(db, "nope") is None


def test_findings_worst_first(tmp_path: Path) -> None:
    db = two_sessions(tmp_path)
    assert [f["fingerprint"] for f in queries.load_findings(db, None)] == ["fp-high", "fp-low"]
    assert queries.load_findings(db, "old") == []
    assert [f["path"] for f in queries.open_findings(db, "new")] == ["a.py", "b.py"]
    assert tuple(queries.load_findings(db, "new")[0]) == queries.FINDING_COLUMNS


def test_continuous_sessions_and_started_ids(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "log.db", create=True)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted("test_1", "/ws", 0.0, "continuous", 1, "h")),
                      Envelope(SessionStarted("test_2", "/ws", 5.0, "timed", 2, "h")),
                      Envelope(SessionStarted("other", "/ws", 5.0))])
    assert queries.started_session_ids(db, "test_") == {"test_1", "test_2"}  # before catch-up
    catch_up(db)
    assert [r["session_id"] for r in queries.resumable_sessions(db, "/ws")] == ["test_1"]
    assert queries.resumable_sessions(db, "/elsewhere") == []
    modes = {r["session_id"]: r["mode"] for r in queries.running_processes(db)}
    assert modes == {"test_1": "continuous", "test_2": "timed", "other": "timed"}


def test_a_session_sees_the_findings_open_during_it_announced_once_before(
        tmp_path: Path) -> None:
    """Findings are announced when they appear, not on every pass: a later session of the
    same workspace still saw them, and a finding resolved before a session began it did not."""
    path = tmp_path / "log.db"
    add_session(path, "first", [("security_scanner", 10.0, True)],
                findings=[FindingDetected("first", "fp-stays", "security_scanner", "B602",
                                          "a.py", 3, "high", "high", "shell=True"),
                          FindingDetected("first", "fp-goes", "security_scanner", "B101",
                                          "b.py", 5, "low", "high", "assert")])
    db = add_session(path, "second", [("security_scanner", 10.0, True)],
                     start=START + timedelta(hours=1),
                     findings=[FindingResolved("second", "fp-goes")])
    add_session(path, "third", [("security_scanner", 10.0, True)],
                start=START + timedelta(hours=2))
    seen = {s: [f["fingerprint"] for f in queries.load_findings(db, s, include_resolved=True)]
            for s in ("first", "second", "third")}
    assert seen == {"first": ["fp-stays", "fp-goes"], "second": ["fp-stays", "fp-goes"],
                    "third": ["fp-stays"]}
    assert [f["fingerprint"] for f in queries.open_findings(db, "third")] == ["fp-stays"]
    assert [f["fingerprint"] for f in queries.load_findings(db, "second")] == ["fp-stays"]
