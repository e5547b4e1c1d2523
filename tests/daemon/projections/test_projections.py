"""The pure projections, driven through a dict instead of SQLite."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings

from daemon.log import events as ev
from daemon.log.events import Event, Recorded, format_ts, to_payload
from daemon.log.hashchain import canonical_json
from daemon.log.schema import PROJECTION_DDL, PROJECTION_TABLES
from daemon.log.store import Decoder
from daemon.projections.activities import result_data_text
from daemon.projections.catalog import PROJECTIONS
from daemon.projections.model import Append, Change, Delete, Key, Put, sql_timestamp

from conftest import BASE_TIME, EVENT_STRATEGIES


class DictState:
    """Projection tables as dicts keyed like SQLite's primary keys; appends keep order."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Key, Mapping[str, Any]]] = {t: {} for t in PROJECTION_TABLES}
        self.appended: dict[str, list[Mapping[str, Any]]] = {t: [] for t in PROJECTION_TABLES}
        self.seq = 0

    def get(self, table: str, key: Key) -> Mapping[str, Any] | None:
        return self.tables[table].get(key)

    def apply(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if isinstance(change, Put):
                self.tables[change.table][change.key] = dict(change.row)
            elif isinstance(change, Delete):
                self.tables[change.table].pop(change.key, None)
            else:
                assert isinstance(change, Append)
                self.appended[change.table].append(dict(change.row))

    def feed(self, *events: Event) -> list[str]:
        """Project each event in order as the next log entry; returns their timestamps."""
        stamps = []
        for event in events:
            self.seq += 1
            ts = ts_at(self.seq)
            recorded = Recorded(self.seq, f"e{self.seq}", ts, event, "p", "h")
            for projection in PROJECTIONS:
                self.apply(projection.apply(recorded, self))
            stamps.append(ts)
        return stamps

    def row(self, table: str, *key: Any) -> Mapping[str, Any]:
        found = self.tables[table].get(tuple(key))
        assert found is not None, f"no {table} row {key}"
        return found


def ts_at(seq: int) -> str:
    return format_ts(BASE_TIME + timedelta(seconds=seq))


def activity(session: str, n: int, *, rt: float | None = None, cpu: float | None = None,
             mem: float | None = None, ok: bool = True) -> ev.ActivityRecorded:
    return ev.ActivityRecorded(session, f"{session}-{n}", "code_search", "search",
                               response_time_ms=rt, cpu_before=1.0, cpu_after=cpu,
                               memory_before_mb=2.0, memory_after_mb=mem, success=ok,
                               error_message=None if ok else "boom",
                               result_data={"hits": n} if n % 2 else None)


def test_rows_have_exactly_the_tables_columns() -> None:
    # The projector writes rows by column name; a stray or missing key would fail there.
    state = DictState()
    state.feed(ev.SessionStarted("s", "/p", 5), activity("s", 1, rt=1.0),
               ev.MetricSampled("s", "m", "code_search", "response_time", 1.0, "ms"),
               ev.ResourcesSampled("s", 1.0, 2.0, 3.0, 4.0, 5.0),
               ev.IssueDetected("s", "i", "high", "code_search", "slow"),
               ev.SuggestionMade("s", "performance", "high", "cache it"),
               ev.FindingDetected("s", "fp", "security_scanner", "B105", "a.py", 1, "high", "hi"),
               ev.FindingsSummarized("s", "security_scanner", 1, {"high": 1}, "ab12"),
               ev.FileChanged("s", "/w", "a.py", "created", size=3),
               ev.PatternLearned("s", "eq_none", "compare with is None", "a.py", 3),
               ev.FileQuarantined("s", "/w", "pattern_probe", "a.py", "ab12", "ValueError", 2),
               ev.LogArchived(ev.ARCHIVE_STREAM, "seg-000000000001-000000000009.jsonl.zst",
                              "ab" * 32, 100, 1, 9, 9, 1, "0" * 64, "cd" * 32, "ef" * 32,
                              "01" * 32, "2024-04-01T00:00:00.000000+00:00"))
    for table in PROJECTION_TABLES:
        if table in ("archived_sessions", "archived_capability_stats"):
            continue  # filled from the archive base only: tests/daemon/app/test_archive.py
        rows = list(state.tables[table].values()) + state.appended[table]
        assert rows, table
        ddl = PROJECTION_DDL[table]
        for row in rows:
            for column in row:
                assert f"\n    {column} " in ddl, (table, column)


# --- sessions -------------------------------------------------------------------------


def test_session_totals_and_averages_skip_missing_measurements() -> None:
    state = DictState()
    (started,) = state.feed(ev.SessionStarted("s", "/p", 30, "timed"))
    state.feed(activity("s", 1, rt=100.0, cpu=10.0, mem=200.0),
               activity("s", 2, rt=300.0, cpu=None, mem=400.0, ok=False),
               activity("s", 3, rt=None, cpu=30.0, mem=None, ok=False),
               activity("other", 1, rt=1e6, cpu=99.0, mem=1e6))  # a session never started
    session = state.row("test_sessions", "s")
    assert session["total_activities"] == 3
    assert session["total_errors"] == 2
    assert session["avg_response_time"] == pytest.approx(200.0)
    assert session["avg_cpu_usage"] == pytest.approx(20.0)
    assert session["avg_memory_usage"] == pytest.approx(300.0)
    assert session["status"] == "running" and session["end_time"] is None
    assert session["start_time"] == started
    assert session["created_at"] == sql_timestamp(started) == "2024-05-01 12:00:01"
    stats = state.row("session_stats", "s")
    assert (stats["response_count"], stats["cpu_count"], stats["memory_count"]) == (2, 2, 2)
    assert stats["mode"] == "timed"
    assert ("other",) not in state.tables["test_sessions"]
    # Every activity is listed, the orphan's too: the log is the truth, the session a summary.
    assert [a["activity_id"] for a in state.appended["activities"]] == [
        "s-1", "s-2", "s-3", "other-1"]


def test_averages_without_any_measurement_are_zero() -> None:
    state = DictState()
    state.feed(ev.SessionStarted("s", "/p", 0, "once"), activity("s", 1))
    session = state.row("test_sessions", "s")
    assert session["total_activities"] == 1
    assert (session["avg_response_time"], session["avg_cpu_usage"],
            session["avg_memory_usage"]) == (0.0, 0.0, 0.0)


def test_the_first_start_and_the_first_end_are_the_ones_that_count() -> None:
    state = DictState()
    state.feed(ev.SessionEnded("s", "stopped"))  # an end before any start changes nothing
    assert ("s",) not in state.tables["test_sessions"]
    (started,) = state.feed(ev.SessionStarted("s", "/first", 10))
    state.feed(activity("s", 1, rt=5.0))
    state.feed(ev.SessionStarted("s", "/second", 99, "continuous"))
    (ended,) = state.feed(ev.SessionEnded("s", "completed", "time is up"))
    state.feed(ev.SessionEnded("s", "error", "late"), ev.SessionScored("s", 87.5))
    session = state.row("test_sessions", "s")
    assert (session["project_path"], session["duration_minutes"]) == ("/first", 10)
    assert session["start_time"] == started
    assert session["total_activities"] == 1 and session["avg_response_time"] == 5.0
    assert (session["status"], session["end_time"]) == ("completed", ended)
    assert session["overall_score"] == 87.5
    assert state.row("session_stats", "s")["end_reason"] == "time is up"


def test_activities_after_the_end_still_count() -> None:
    state = DictState()
    state.feed(ev.SessionStarted("s", "/p", 1), ev.SessionEnded("s", "expired"),
               activity("s", 1, rt=2.0, ok=False))
    session = state.row("test_sessions", "s")
    assert (session["status"], session["total_activities"], session["total_errors"]) == (
        "expired", 1, 1)


def test_activity_and_metric_rows_copy_the_event() -> None:
    state = DictState()
    (ts,) = state.feed(activity("s", 1, rt=12.5, cpu=3.0, mem=4.0, ok=False))
    (row,) = state.appended["activities"]
    assert row == {
        "activity_id": "s-1", "session_id": "s", "timestamp": ts, "capability": "code_search",
        "activity_type": "search", "description": None, "response_time_ms": 12.5,
        "cpu_before": 1.0, "cpu_after": 3.0, "memory_before_mb": 2.0, "memory_after_mb": 4.0,
        "success": 0, "error_message": "boom", "result_data": '{"hits":1}',
        "created_at": sql_timestamp(ts)}
    state.feed(ev.MetricSampled("s", "m1", "code_search", "accuracy", 0.5, "%", "probe"))
    (metric,) = [m for m in state.appended["performance_metrics"] if m["metric_id"] == "m1"]
    assert (metric["metric_id"], metric["value"], metric["unit"], metric["context"]) == (
        "m1", 0.5, "%", "probe")


# --- issues and suggestions -----------------------------------------------------------


def test_issue_updates_merge_only_the_fields_they_carry() -> None:
    state = DictState()
    state.feed(ev.IssueUpdated("s", "i1", severity="low"))  # nothing to update yet
    assert state.tables["issues"] == {}
    (detected,) = state.feed(ev.IssueDetected("s", "i1", "medium", "code_search", "slow",
                                              "takes 2s", "add an index", True))
    state.feed(ev.IssueUpdated("s", "i1", severity="critical", description="takes 9s"))
    state.feed(ev.IssueUpdated("s", "i1", reproducible=False))
    issue = state.row("issues", "i1")
    assert issue == {
        "issue_id": "i1", "session_id": "s", "timestamp": detected, "severity": "critical",
        "capability": "code_search", "issue_type": "slow", "description": "takes 9s",
        "suggested_fix": "add an index", "reproducible": 0,
        "created_at": sql_timestamp(detected)}


def test_a_redetected_issue_keeps_its_first_timestamp() -> None:
    state = DictState()
    (first,) = state.feed(ev.IssueDetected("s1", "i1", "low", "c", "t", "old"))
    state.feed(ev.IssueDetected("s2", "i1", "high", "c", "t", "new", reproducible=None))
    issue = state.row("issues", "i1")
    assert (issue["timestamp"], issue["created_at"]) == (first, sql_timestamp(first))
    assert (issue["session_id"], issue["severity"], issue["description"]) == ("s2", "high", "new")
    assert issue["reproducible"] is None


def test_every_suggestion_is_a_new_row() -> None:
    state = DictState()
    state.feed(ev.SuggestionMade("s", "performance", "high", "cache"),
               ev.SuggestionMade("s", "performance", "high", "cache"))
    rows = state.appended["improvement_suggestions"]
    assert len(rows) == 2 and "suggestion_id" not in rows[0]


# --- findings -------------------------------------------------------------------------


def _finding(session: str, line: int = 3) -> ev.FindingDetected:
    return ev.FindingDetected(session, "fp", "security_scanner", "secret", "a.py", line,
                              "high", "medium", "a password", "pass****")


def test_findings_track_first_seen_last_seen_resolution_and_reopening() -> None:
    state = DictState()
    state.feed(ev.SessionStarted("s1", "/w", 5), ev.SessionStarted("s2", "/w", 5))
    state.feed(ev.FindingResolved("s1", "fp"))  # resolving the unknown is a no-op
    assert state.tables["findings"] == {}
    (first,) = state.feed(_finding("s1"))
    (second,) = state.feed(_finding("s1", line=7))
    finding = state.row("findings", "/w", "fp")
    assert (finding["first_seen"], finding["last_seen"], finding["line"]) == (first, second, 7)
    assert finding["resolved_at"] is None and finding["workspace"] == "/w"

    (resolved,) = state.feed(ev.FindingResolved("s1", "fp"))
    state.feed(ev.FindingResolved("s1", "fp"))  # a second resolution keeps the first time
    assert state.row("findings", "/w", "fp")["resolved_at"] == resolved

    (reopened,) = state.feed(_finding("s2"))  # another session on the same workspace
    finding = state.row("findings", "/w", "fp")
    assert finding["resolved_at"] is None
    assert (finding["first_seen"], finding["last_seen"]) == (first, reopened)
    assert finding["session_id"] == "s2"
    assert finding["created_at"] == sql_timestamp(first)


def test_the_same_finding_in_two_workspaces_is_two_findings() -> None:
    # A vendored file in two projects: fixing one must not close the other's.
    state = DictState()
    state.feed(ev.SessionStarted("a", "/proj/a", 5), ev.SessionStarted("b", "/proj/b", 5))
    state.feed(_finding("a"), _finding("b"))
    assert sorted(state.tables["findings"]) == [("/proj/a", "fp"), ("/proj/b", "fp")]
    state.feed(ev.FindingResolved("a", "fp"))
    assert state.row("findings", "/proj/a", "fp")["resolved_at"] is not None
    assert state.row("findings", "/proj/b", "fp")["resolved_at"] is None


# --- files ----------------------------------------------------------------------------


def _file(path: str, change: str, dest: str | None = None, size: int = 1) -> ev.FileChanged:
    return ev.FileChanged("s", "/w", path, change, size=size, mtime=1.5, content_hash="h",
                          dest_path=dest)


def test_files_follow_creates_modifies_moves_and_deletes() -> None:
    state = DictState()
    state.feed(_file("a.py", "created"), _file("b.py", "created"))
    (modified,) = state.feed(_file("a.py", "modified", size=2))
    assert state.row("files", "/w", "a.py")["size"] == 2
    assert state.row("files", "/w", "a.py")["changed_at"] == modified

    state.feed(_file("a.py", "moved", dest="c.py", size=2))
    assert ("/w", "a.py") not in state.tables["files"]
    moved = state.row("files", "/w", "c.py")
    assert (moved["path"], moved["last_change"], moved["size"]) == ("c.py", "moved", 2)

    state.feed(_file("c.py", "moved", dest="b.py", size=9))  # a rename over another file
    assert set(state.tables["files"]) == {("/w", "b.py")}
    assert state.row("files", "/w", "b.py")["size"] == 9

    state.feed(_file("b.py", "deleted"), _file("gone.py", "deleted"))
    assert state.tables["files"] == {}


def test_a_move_without_destination_updates_in_place_and_workspaces_are_separate() -> None:
    state = DictState()
    state.feed(_file("a.py", "created"), _file("a.py", "moved"),
               ev.FileChanged("s", "/other", "a.py", "created"))
    assert state.row("files", "/w", "a.py")["last_change"] == "moved"
    assert state.row("files", "/other", "a.py")["size"] is None


def test_events_without_a_projection_change_nothing() -> None:
    state = DictState()
    state.feed(ev.WorkspaceRescanned("s", "/w", "startup", 10, 2, 5.0))
    assert all(not rows for rows in state.tables.values())
    assert all(not rows for rows in state.appended.values())


@settings(max_examples=200, deadline=None)
@given(EVENT_STRATEGIES[ev.ActivityRecorded])
def test_result_data_cut_from_the_payload_equals_encoding_it_again(event: Event) -> None:
    assert isinstance(event, ev.ActivityRecorded)
    payload = canonical_json(to_payload(event))
    [row] = [(1, "id", event.session_id, event.TYPE, event.VERSION, format_ts(BASE_TIME),
              payload, "0" * 64, "0" * 64)]
    recorded = Decoder()(row)
    assert recorded.payload == payload and recorded.event == event
    expected = None if event.result_data is None else canonical_json(event.result_data)
    assert result_data_text(recorded.payload, event) == expected
    # Without the stored text (an upcast event), the same value, encoded afresh.
    assert result_data_text("", event) == expected


# --- the spec's metric types, per call ---------------------------------------------------


def _metrics_of(state: DictState) -> dict[tuple[str, str, str | None], float]:
    rows = [*state.appended["performance_metrics"], *state.tables["performance_metrics"].values()]
    return {(r["capability"], r["metric_type"], r["context"]): r["value"] for r in rows}


def test_a_call_gives_the_spec_metric_types_of_its_capability() -> None:
    state = DictState()
    state.feed(ev.SessionStarted("s", "/p", 5))  # at ts_at(1)
    search = ev.ActivityRecorded(
        "s", "a1", "code_search", "search", response_time_ms=250.0, success=True,
        result_data={"hit_at_1": 0.75, "mean_reciprocal_rank": 0.8}, cpu_time_ms=125.0)
    index = ev.ActivityRecorded(
        "s", "a2", "code_indexer", "indexing", response_time_ms=90.0, success=True,
        result_data={"files_indexed": 30})
    assist = ev.ActivityRecorded(
        "s", "a3", "code_assistant", "code_assist", response_time_ms=3000.0,
        result_data={"accuracy": 0.9})
    # Another analyzer's "accuracy" key means nothing here.
    other = ev.ActivityRecorded("s", "a4", "workspace_analyzer", "census",
                                response_time_ms=10.0, result_data={"accuracy": 0.1})
    state.feed(search, index, assist, other)  # at ts_at(2) .. ts_at(5)
    found = _metrics_of(state)
    assert found[("code_search", "response_time", "search")] == 250.0
    assert found[("code_search", "ux_quality", "search")] == 0.8
    assert found[("code_search", "cpu_usage", "the call's CPU, % of one core")] == 50.0
    assert found[("code_search", "accuracy", "search probes: sampled definition ranked first")] \
        == 0.75
    assert found[("code_search", "accuracy", "search probes: mean reciprocal rank")] == 0.8
    assert found[("code_indexer", "ms_per_file", "per file indexed")] == 3.0
    assert found[("code_assistant", "accuracy", "answers that agree with the code index")] \
        == 0.9
    assert found[("code_assistant", "ux_quality", "code_assist")] == 0.2
    assert not any(c == "workspace_analyzer" and t == "accuracy" for c, t, _ in found)
    firsts = {c: v for (c, t, _), v in found.items() if t == "time_to_first_result"}
    assert firsts == {"code_search": 1000.0, "code_indexer": 2000.0,
                      "code_assistant": 3000.0, "workspace_analyzer": 4000.0}


def test_time_to_first_result_is_the_first_success_only() -> None:
    state = DictState()
    state.feed(ev.SessionStarted("s", "/p", 5),
               activity("s", 1, rt=5.0, ok=False),  # a failure is no result
               activity("s", 2, rt=5.0), activity("s", 3, rt=5.0))
    (first,) = [r for r in state.tables["performance_metrics"].values()
                if r["metric_type"] == "time_to_first_result"]
    assert (first["capability"], first["value"], first["unit"]) == ("code_search", 2000.0, "ms")
    assert not any(r["metric_type"] == "cpu_usage"  # version-1 calls have no CPU time
                   for r in state.appended["performance_metrics"])


def test_the_learning_scenarios_precision_is_the_mistake_learners_accuracy() -> None:
    state = DictState()
    state.feed(ev.MetricSampled("s", "m1", "scenario:learning", "precision", 0.95, "ratio",
                                "realworld scenario"))
    found = _metrics_of(state)
    assert found[("scenario:learning", "precision", "realworld scenario")] == 0.95
    assert found[("pattern_probe", "accuracy",
                  "mistake learner: warnings that were expected (labelled set)")] == 0.95



def test_the_integration_scenarios_planted_calls_are_the_scanners_accuracy() -> None:
    state = DictState()
    state.feed(ev.MetricSampled("s", "m1", "scenario:integration",
                                "planted_found_and_searchable", 1.0, "ratio"),
               ev.MetricSampled("s", "m2", "scenario:learning", "false_positive_rate", 0.1,
                                "ratio"))
    accuracy = [(r["capability"], r["value"]) for r in state.appended["performance_metrics"]
                if r["metric_type"] == "accuracy"]
    assert accuracy == [("security_scanner", 1.0)]  # a false-positive rate is no accuracy
