"""The findings ledger: a call's observations become only the changes the log does not hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.base import Finding
from daemon.log.database import Database
from daemon.log.events import (
    Envelope,
    Event,
    FindingDetected,
    FindingResolved,
    FindingsSummarized,
    SessionStarted,
)
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read.queries import open_finding_rows
from daemon.run.ledger import FindingLedger

SESSION = "s-ledger"
WORKSPACE = "/work/project"


def finding(fingerprint: str, line: int = 1, severity: str = "low") -> Finding:
    return Finding(fingerprint=fingerprint, rule="B101", path="a.py", line=line,
                   severity=severity, confidence="high", message="assert used",
                   preview="assert x")


def test_a_finding_is_announced_once_while_it_stays() -> None:
    ledger = FindingLedger()
    first = ledger.changes(SESSION, "security_scanner", [finding("f1")], ())
    again = ledger.changes(SESSION, "security_scanner", [finding("f1")], ())
    assert [type(e) for e in first] == [FindingDetected]
    assert again == []


def test_a_changed_field_is_announced_and_a_resolution_only_of_what_is_open() -> None:
    ledger = FindingLedger({}, complete=True)
    ledger.changes(SESSION, "security_scanner", [finding("f1")], ())
    moved = ledger.changes(SESSION, "security_scanner", [finding("f1", line=7)], ())
    assert [(type(e), getattr(e, "line", None)) for e in moved] == [(FindingDetected, 7)]
    gone = ledger.changes(SESSION, "security_scanner", [], ["f1", "never-open"])
    assert gone == [FindingResolved(SESSION, "f1")]
    assert ledger.changes(SESSION, "security_scanner", [], ["f1"]) == []


def test_a_ledger_that_does_not_know_the_log_passes_resolutions_on() -> None:
    """A runner used on its own has no projection to start from: dropping a resolution
    it cannot place would leave the finding open in the log for ever."""
    assert FindingLedger().changes(SESSION, "security_scanner", [], ["f9"]) == [
        FindingResolved(SESSION, "f9")]


def test_the_summary_counts_and_digests_one_capabilitys_open_findings() -> None:
    ledger = FindingLedger()
    ledger.changes(SESSION, "security_scanner", [finding("b"), finding("a", severity="high")], ())
    ledger.changes(SESSION, "pattern_probe", [finding("p")], ())
    summary = ledger.summary(SESSION, "security_scanner")
    assert isinstance(summary, FindingsSummarized)
    assert (summary.open_findings, summary.by_severity) == (2, {"high": 1, "low": 1})
    same = FindingLedger()
    same.changes(SESSION, "security_scanner", [finding("a", severity="high"), finding("b")], ())
    assert same.summary(SESSION, "security_scanner").digest == summary.digest
    assert ledger.reports("pattern_probe") and not ledger.reports("code_indexer")


# --- against the real projection, for any sequence of passes ---------------------------

fingerprints = st.sampled_from([f"fp{i}" for i in range(8)])
observation = st.tuples(st.integers(1, 3), st.sampled_from(["low", "medium", "high"]))
passes = st.lists(st.dictionaries(fingerprints, observation, max_size=6), min_size=1,
                  max_size=8)


@settings(max_examples=40, deadline=None)
@given(passes=passes)
def test_the_projection_is_the_latest_observation_of_each_fingerprint(
        passes: list[dict[str, tuple[int, str]]],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each pass sees some findings (appearing, staying, moving, changing severity,
    disappearing); the analyzer reports what it sees and what it saw last time but not
    now, as the scanner does. Through the ledger and the real projection, the open findings
    are exactly the last pass's, with its fields, however few events that took."""
    db = Database.open(tmp_path_factory.mktemp("ledger") / "log.db", create=True)
    ledger = FindingLedger({}, complete=True)  # an empty log: nothing is open
    events: list[Event] = [SessionStarted(SESSION, WORKSPACE, 5)]
    seen: dict[str, tuple[int, str]] = {}
    for observed in passes:
        found = [finding(fp, line, severity) for fp, (line, severity) in observed.items()]
        gone = [fp for fp in seen if fp not in observed]
        events += ledger.changes(SESSION, "security_scanner", found, gone)
        seen = observed
    with EventStore(db) as store:
        store.append([Envelope(e) for e in events])
    catch_up(db)
    projected = {row["fingerprint"]: (row["line"], row["severity"])
                 for row in open_finding_rows(db, WORKSPACE)}
    assert projected == passes[-1]
    # The ledger a next session starts from is what it ended with.
    restarted = FindingLedger.from_rows(open_finding_rows(db, WORKSPACE))
    last = [finding(fp, line, severity) for fp, (line, severity) in passes[-1].items()]
    assert restarted.changes(SESSION, "security_scanner", last, ()) == []
