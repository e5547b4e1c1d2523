"""``integration``: index, scan and search the same changes, from two writers on one log.

Two testers (two writers, as two processes on one database would be) each run a session
on its own copy of the project; once both first passes are over (a big project takes
several budgeted calls per analyzer), a driver edits both over what is left of
``--duration``, keeping back a share for the analyzers to catch up. Then the parts must
agree:

* every file with a finding is in the code index, and every planted ``shell=True`` call
  is both reported by the scanner and found by searching its function's name;
* the projections agree with the log they come from (findings vs distinct fingerprints
  of ``finding_detected``, activities vs ``activity_recorded`` events and vs
  ``test_sessions.total_activities``);
* the log's hash chain holds and every projection equals a fresh replay
  (:func:`daemon.projections.verify.verify`, what ``realworld verify`` runs): interleaved writers
  left no gap, fork or lost update.
"""

from __future__ import annotations

import time
from pathlib import Path

from daemon.log.database import Database
from daemon.projections.verify import verify
from daemon.scenarios import harness
from daemon.scenarios.continuous import RISKY_RULE, Edit, apply, default_edits, plan_edits
from daemon.scenarios.continuous import parsable_modules as modules_of
from daemon.scenarios.scratch import scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Outcome, metrics_of

NAME = "integration"
WRITERS = 2
DEFAULT_DURATION_S = 120.0
CAPABILITIES = ("code_indexer", "security_scanner", "pattern_probe")

BARS = (
    Bar("findings_searchable", "min", 1.0, "every file with a finding is in the code index"),
    Bar("planted_found_and_searchable", "min", 1.0,
        "each planted call is reported by the scanner and found by search"),
    Bar("count_mismatches", "max", 0.0, "projections agree with the events they come from"),
    Bar("verify_failures", "max", 0.0, "hash chain intact, projections equal a replay"),
    harness.ERROR_RATE_BAR,
    harness.BACKLOG_BAR,
)


def run(settings: Settings) -> Outcome:
    copies = [scratch_copy(settings.project, settings.workdir / f"integration_{n}")
              for n in range(1, WRITERS + 1)]
    count = settings.edits if settings.edits is not None else default_edits(settings.duration_s)
    plans = [plan_edits(modules_of(copy), count, settings.seed + n)
             for n, copy in enumerate(copies)]
    testers = [harness.open_tester(settings, monitor_interval=5.0) for _ in copies]
    sessions: list[str] = []
    try:
        deadline = harness.Deadline.after(settings.duration_s)
        for tester, copy in zip(testers, copies, strict=True):
            sessions.append(tester.start_test_session(copy, 0, mode="continuous"))
        for tester, session_id in zip(testers, sessions, strict=True):
            harness.drained(tester, session_id, deadline)  # what it left is judged below
        since = harness.now_ts()
        gap = harness.edit_window(deadline.left()) / (count + 1)
        for number in range(count):
            time.sleep(min(gap, deadline.left()))
            for copy, plan in zip(copies, plans, strict=True):
                apply(copy, plan[number])
        for tester, session_id, plan in zip(testers, sessions, plans, strict=True):
            paths = sorted({e.path for e in plan})
            harness.wait_until(lambda: all(
                harness.analyzed_since(tester, session_id, paths, c, since)  # noqa: B023
                for c in CAPABILITIES), deadline.left(), 0.2)
        # Findings of the edits may sit in files the indexer has yet to reach: agreeing
        # means what each analyzer was given is done, not only that it was called.
        left = sum((harness.drained(t, s, deadline)
                    for t, s in zip(testers, sessions, strict=True)), harness.Backlog({}))
        for tester, session_id in zip(testers, sessions, strict=True):
            tester.stop_session(session_id)
    finally:
        for tester in testers:
            tester.close()
    return _outcome(settings, copies, plans, sessions, left)


def _agreeing(settings: Settings, copy: Path, plan: list[Edit], session_id: str
              ) -> tuple[int, int, int, int]:
    """(finding paths, of them indexed, planted calls, of them found and searchable)."""
    index = harness.index_path(settings)
    indexed = harness.indexed_paths(index, copy)
    # From the session's own finding events, not the findings projection: that keeps one
    # row per fingerprint, and the same planted line at the same path of the two copies
    # is one fingerprint, credited to whichever session reported it first.
    detected = harness.rows(
        settings.db_path, "SELECT json_extract(payload, '$.path') AS path, "
        "json_extract(payload, '$.rule') AS rule FROM events WHERE session_id = ? AND "
        "type = 'finding_detected' AND json_extract(payload, '$.fingerprint') NOT IN ("
        "SELECT json_extract(payload, '$.fingerprint') FROM events WHERE session_id = ? "
        "AND type = 'finding_resolved')", (session_id, session_id))
    finding_paths = {str(r["path"]) for r in detected}
    reported = {str(r["path"]) for r in detected if r["rule"] == RISKY_RULE}
    risky = [e for e in plan if e.risky]
    agreed = sum(1 for e in risky if e.path in reported
                 and harness.defined_in_index(index, copy, e.symbol, e.path))
    return len(finding_paths), len(finding_paths & indexed), len(risky), agreed


def _count_mismatches(db_path: Path, sessions: list[str]) -> int:
    mismatches = 0
    # One findings row per workspace and fingerprint: both sessions' copies count.
    fingerprints = harness.scalar(
        db_path, "SELECT COUNT(*) FROM (SELECT DISTINCT s.project_path, "
                 "json_extract(e.payload, '$.fingerprint') FROM events AS e "
                 "JOIN test_sessions AS s USING (session_id) "
                 "WHERE e.type = 'finding_detected')")
    findings = harness.scalar(db_path, "SELECT COUNT(*) FROM findings")
    mismatches += int(fingerprints != findings)
    for session_id in sessions:
        events = harness.scalar(db_path, "SELECT COUNT(*) FROM events WHERE session_id = ? "
                                         "AND type = 'activity_recorded'", (session_id,))
        rows = harness.scalar(db_path, "SELECT COUNT(*) FROM activities WHERE session_id = ?",
                              (session_id,))
        total = harness.scalar(db_path, "SELECT total_activities FROM test_sessions "
                                        "WHERE session_id = ?", (session_id,))
        mismatches += int(events != rows) + int(rows != total)
    return mismatches


def _outcome(settings: Settings, copies: list[Path], plans: list[list[Edit]],
             sessions: list[str], left: harness.Backlog) -> Outcome:
    db_path = settings.db_path
    with_findings = indexed = planted = agreed = 0
    for copy, plan, session_id in zip(copies, plans, sessions, strict=True):
        a, b, c, d = _agreeing(settings, copy, plan, session_id)
        with_findings, indexed, planted, agreed = (with_findings + a, indexed + b,
                                                   planted + c, agreed + d)
    report = verify(Database.open(db_path))
    marks = ", ".join("?" for _ in sessions)
    activities = harness.rows(db_path, "SELECT capability, success FROM activities "
                                       f"WHERE session_id IN ({marks})", sessions)
    worked = harness.analyzer_calls(activities)
    metrics = metrics_of({
        "writers": (len(sessions), ""),
        "edits": (sum(len(p) for p in plans), ""),
        "files_with_findings": (with_findings, ""),
        "findings_searchable": (indexed / with_findings if with_findings else 1.0, "ratio"),
        "planted_found_and_searchable": (agreed / planted if planted else 1.0, "ratio"),
        "count_mismatches": (_count_mismatches(db_path, sessions), ""),
        "events_verified": (report.events, ""),
        "verify_failures": (0 if report.ok else 1 + len(report.mismatches), ""),
        "error_rate": (harness.error_rate(worked), "ratio"),
        harness.BACKLOG: (left.files, "files"),
    })
    notes = [f"{len(sessions)} testers on one log, each on its own copy of {settings.project}",
             *harness.backlog_note(left)]
    if report.chain_break is not None:
        notes.append(f"chain broken at seq {report.chain_break.seq}: {report.chain_break.reason}")
    notes += [f"{m.table} differs from a replay: {m.first_difference}"[:200]
              for m in report.mismatches]
    return Outcome(metrics, tuple(notes), tuple(sessions))

