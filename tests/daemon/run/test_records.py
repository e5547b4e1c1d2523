"""What a call came to, and the events that record it: activities, findings, recovery
steps and quarantine."""

from __future__ import annotations

import math
import secrets
import string
from pathlib import Path

from analyzers.base import AnalysisResult, Finding, LearnedPattern
from analyzers.common.secrets.redact import mask
from daemon.log.database import Database
from daemon.log.events import (
    ActivityRecorded,
    Envelope,
    FileQuarantined,
    FileReleased,
    FindingDetected,
    FindingResolved,
    IssueDetected,
    IssueUpdated,
    PatternLearned,
    SessionStarted,
)
from daemon.log.store import EventStore, read_events
from daemon.projections.projector import catch_up
from daemon.run.measure import Meter
from daemon.run.records import (
    RECOVERY_CAPABILITY,
    Failure,
    Measurement,
    activity_event,
    call_events,
    describe,
    error_message,
    finding_events,
    outcome_error,
    quarantine_events,
    quarantine_issue_id,
    recovery_activity,
    release_events,
)
from daemon.run.recovery import Quarantined

ACTIVITY_COLUMNS = ("activity_id", "session_id", "timestamp", "capability", "activity_type",
                    "description", "response_time_ms", "cpu_before", "cpu_after",
                    "memory_before_mb", "memory_after_mb", "success", "error_message",
                    "result_data", "created_at")

SAMPLE = Measurement(response_time_ms=245.4, cpu_before=12.5, cpu_after=40.0,
                     memory_before_mb=50.0, memory_after_mb=52.25)
ITEM = Quarantined("pattern_probe", "src/deep.py", "h" * 64, "RecursionError: too deep", 2)


# --- a call's activity ----------------------------------------------------------------


def test_success_event_has_every_column() -> None:
    event = activity_event(session_id="s1", capability="workspace_analyzer",
                           activity_type="workspace_analysis", measurement=SAMPLE,
                           outcome=AnalysisResult("7 insights", {"files": 3, "bad": math.nan}))
    assert event.description == "Workspace analysis: 245ms, 7 insights"
    assert event.success is True and event.error_message is None
    assert event.response_time_ms == 245.4
    assert (event.cpu_before, event.cpu_after) == (12.5, 40.0)
    assert (event.memory_before_mb, event.memory_after_mb) == (50.0, 52.25)
    assert event.result_data == {"files": 3, "bad": None}
    assert len(event.activity_id) == 32


def test_exception_event_carries_message_and_traceback() -> None:
    try:
        raise KeyError("missing thing")
    except KeyError as exc:
        event = activity_event(session_id="s1", capability="security_scanner",
                               activity_type="security_scan", measurement=SAMPLE, outcome=exc)
    assert event.success is False
    assert event.error_message == "KeyError: 'missing thing'"
    assert event.description == "Security scan: 245ms, failed: KeyError: 'missing thing'"
    assert event.result_data is not None and event.result_data["error_type"] == "KeyError"
    assert any(Path(__file__).name in frame for frame in event.result_data["traceback"])


def test_failure_without_a_measurement() -> None:
    event = activity_event(session_id="s1", capability="code_search", activity_type="search",
                           measurement=None, outcome=Failure("skipped", "skipped: still running"))
    assert event.description == "Code search: failed: skipped: still running"
    assert event.response_time_ms is None and event.cpu_before is None
    assert event.result_data == {"error_type": "skipped"}


def test_messages_are_clipped_and_made_safe() -> None:
    odd = b"\xff".decode("utf-8", "surrogateescape")
    exc = RuntimeError("line one\nline two " + "x" * 5000 + odd)
    message = error_message(exc)
    assert len(message) == 2000 and message.endswith("…")
    description = describe("pattern_probe", SAMPLE, exc)
    assert description.startswith("Pattern probe: 245ms, failed: RuntimeError: line one")
    assert "\n" not in description and len(description) < 200
    assert error_message(RuntimeError()) == "RuntimeError"


def test_activities_land_in_the_log_and_the_table(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "x.db", create=True)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(session_id="s1", project_path=str(tmp_path),
                                              duration_minutes=1))])
        measured = Meter().measure(lambda: AnalysisResult("15 files", {"files": 15}))
        assert isinstance(measured.value, AnalysisResult)
        ok = activity_event(session_id="s1", capability="code_indexer",
                            activity_type="indexing", measurement=measured.measurement,
                            outcome=measured.value)
        failed = activity_event(session_id="s1", capability="code_indexer",
                                activity_type="indexing", measurement=SAMPLE,
                                outcome=OSError("disk gone"))
        store.append([Envelope(ok), Envelope(failed)])
    catch_up(db)
    conn = db.connect_readonly()
    try:
        logged = [r.event for r in read_events(conn, session_id="s1")]
        assert logged[1:] == [ok, failed]  # the log gives back exactly what was appended
        rows = conn.execute(
            f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM activities ORDER BY response_time_ms"
        ).fetchall()
        session = conn.execute(
            "SELECT total_activities, total_errors FROM test_sessions WHERE session_id = 's1'"
        ).fetchone()
    finally:
        conn.close()
    first = dict(zip(ACTIVITY_COLUMNS, rows[0], strict=True))
    assert all(first[c] is not None for c in ACTIVITY_COLUMNS if c != "error_message")
    assert first["success"] == 1 and first["result_data"] == '{"files":15}'
    assert first["description"].startswith("Code indexing: ")
    second = dict(zip(ACTIVITY_COLUMNS, rows[1], strict=True))
    assert second["success"] == 0 and second["error_message"] == "OSError: disk gone"
    assert session == (2, 1)


def test_the_event_covers_every_column_of_the_spec_row() -> None:
    # timestamp and created_at come from the envelope, when the log takes the event.
    fields = set(ActivityRecorded.__dataclass_fields__) | {"timestamp", "created_at"}
    assert set(ACTIVITY_COLUMNS) <= fields


def test_an_empty_summary_ends_the_line_at_the_time() -> None:
    quick = Measurement(89.2, 1.0, 2.0, 10.0, 10.0)
    assert describe("error_recovery", quick, AnalysisResult("")) == "Error recovery: 89ms"


def test_files_left_for_the_next_call_are_recorded_under_one_name() -> None:
    def data(result: AnalysisResult) -> object:
        return activity_event(session_id="s1", capability="code_indexer", activity_type="index",
                              measurement=None, outcome=result).result_data

    assert data(AnalysisResult("busy", {"pending": 7}, remaining=7)) == {"pending": 7,
                                                                         "remaining": 7}
    assert data(AnalysisResult("done", {"pending": 0})) == {"pending": 0}
    # An analyzer's own "remaining" is its own business: it is not overwritten.
    assert data(AnalysisResult("x", {"remaining": "few"}, remaining=2)) == {"remaining": "few"}


def test_a_full_pass_is_marked_under_one_name() -> None:
    def data(result: AnalysisResult, full_pass: bool) -> object:
        return activity_event(session_id="s1", capability="code_indexer", activity_type="index",
                              measurement=None, outcome=result, full_pass=full_pass).result_data

    assert data(AnalysisResult("all", {"files": 3}), True) == {"files": 3, "full_pass": True}
    assert data(AnalysisResult("some", {"files": 1}), False) == {"files": 1}
    # The scanner says it itself, the same way: left as it is.
    assert data(AnalysisResult("x", {"full_pass": False}), True) == {"full_pass": False}


def test_outcome_error_says_what_went_wrong() -> None:
    assert outcome_error(ValueError("bad")) == "ValueError: bad"
    assert outcome_error(Failure("timeout", "timed out after 1s")) == "timed out after 1s"


# --- the events of a call -------------------------------------------------------------


def test_a_result_brings_its_findings_resolutions_and_lessons() -> None:
    finding = Finding(fingerprint="f1", rule="hardcoded-password", path="a.py", line=3,
                      severity="high", confidence="medium", message="password in code",
                      preview="password = '****'")
    learned = LearnedPattern(shape="eval-call", fix="literal_eval", path="b.py", line=7)
    result = AnalysisResult("1 finding", findings=(finding,), resolved=("old",),
                            learned=(learned,))
    events = finding_events("s1", "security_scanner", result)
    assert [type(e) for e in events] == [FindingDetected, FindingResolved, PatternLearned]
    detected = events[0]
    assert isinstance(detected, FindingDetected)
    assert (detected.capability, detected.rule, detected.line) == (
        "security_scanner", "hardcoded-password", 3)
    assert isinstance(events[1], FindingResolved) and events[1].fingerprint == "old"


def test_a_call_records_its_activity_first_and_its_findings_beside_it() -> None:
    finding = Finding(fingerprint="f1", rule="r", path="a.py", line=1, severity="low",
                      confidence="high")
    activity, events = call_events(
        session_id="s1", capability="security_scanner", activity_type="security_scan",
        measurement=SAMPLE, outcome=AnalysisResult("1 finding", findings=(finding,)))
    assert events[0] is activity and activity.success
    assert [type(e) for e in events] == [ActivityRecorded, FindingDetected]


def test_a_call_that_took_retries_records_its_recovery_too() -> None:
    activity, events = call_events(
        session_id="s1", capability="code_indexer", activity_type="indexing",
        measurement=SAMPLE, outcome=AnalysisResult("ok"), paths=("a.py",), attempts=3,
        retry_errors=("BlockingIOError: again", "BlockingIOError: again"))
    assert len(events) == 2 and events[0] is activity
    retried = events[1]
    assert isinstance(retried, ActivityRecorded)
    assert retried.capability == RECOVERY_CAPABILITY and retried.success
    assert retried.response_time_ms == SAMPLE.response_time_ms
    assert retried.result_data is not None and retried.result_data["attempts"] == 3


def test_a_failed_call_records_no_findings_and_an_unrecovered_retry() -> None:
    activity, events = call_events(
        session_id="s1", capability="code_indexer", activity_type="indexing",
        measurement=None, outcome=OSError("busy"), paths=("a.py",), attempts=2,
        retry_errors=("OSError: busy",))
    assert not activity.success
    retried = events[1]
    assert isinstance(retried, ActivityRecorded) and not retried.success
    assert retried.response_time_ms == 0.0 and retried.error_message == "OSError: busy"


# --- recovery and quarantine ----------------------------------------------------------


def test_a_recovery_activity_names_what_happened() -> None:
    activity = recovery_activity(session_id="s", action="retry", analyzer="code_indexer",
                                 paths=("a.py",), recovered=True, time_to_recover_ms=12.5,
                                 attempts=2, errors=("BlockingIOError: again",))
    assert activity.capability == "error_recovery" and activity.success
    assert activity.response_time_ms == 12.5
    # The spec's console line, "Error recovery: 89ms", then what happened.
    assert activity.description == ("Error recovery: 12ms, code_indexer retried a.py after 2 "
                                    "attempts: recovered")
    assert activity.result_data is not None and activity.result_data["attempts"] == 2


def test_a_quarantined_file_is_an_event_and_a_medium_issue() -> None:
    quarantined, issue = quarantine_events("s1", "/ws", ITEM)
    assert isinstance(quarantined, FileQuarantined)
    assert (quarantined.workspace, quarantined.capability, quarantined.path,
            quarantined.crashes) == ("/ws", "pattern_probe", "src/deep.py", 2)
    assert isinstance(issue, IssueDetected)
    assert (issue.severity, issue.issue_type) == ("medium", "file_quarantined")
    assert issue.issue_id == quarantine_issue_id("/ws", ITEM)
    assert issue.description == ("src/deep.py: pattern_probe failed on it 2 times "
                                 "(RecursionError: too deep); it is skipped until its content "
                                 "changes")
    assert issue.reproducible is True


def test_a_release_updates_the_same_issue_to_info() -> None:
    activity, released, update = release_events("s1", "/ws", ITEM, "its content changed")
    assert isinstance(activity, ActivityRecorded) and activity.success
    assert activity.description == ("Error recovery: 0ms, pattern_probe released src/deep.py: "
                                    "recovered (its content changed)")
    assert isinstance(released, FileReleased) and released.reason == "its content changed"
    assert isinstance(update, IssueUpdated) and update.severity == "info"
    assert update.issue_id == quarantine_issue_id("/ws", ITEM)


def test_the_quarantine_issue_is_one_per_workspace_file_analyzer_and_bytes() -> None:
    same = quarantine_issue_id("/ws", ITEM)
    assert same == quarantine_issue_id("/ws", ITEM)
    other_bytes = Quarantined(ITEM.capability, ITEM.path, "0" * 64, ITEM.error, 3)
    assert quarantine_issue_id("/ws", other_bytes) != same
    assert quarantine_issue_id("/elsewhere", ITEM) != same


def test_an_error_that_quotes_a_secret_is_recorded_masked() -> None:
    token = "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                             for _ in range(36))
    crash = ValueError(f"cannot handle line: GITHUB_TOKEN = '{token}'")
    assert error_message(crash) == f"ValueError: cannot handle line: GITHUB_TOKEN = '{mask(token)}'"
    event = activity_event(session_id="s1", capability="code_indexer", activity_type="indexing",
                           measurement=None, outcome=Failure("invalid_result", f"got {token}"))
    assert event.error_message == f"got {mask(token)}"
    assert token not in event.description
