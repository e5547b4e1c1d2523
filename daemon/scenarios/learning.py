"""``learning``: the labelled fixes applied as edits in a watched copy, then similar code.

The ``before.py`` of every case is in the copy when the session starts; once the
session's first pass is over (every file profiled: on a big project the probe's time
budget spreads it over several calls, and a fix to a file not yet profiled has no
"before" to learn from), each ``after.py`` is written over it as a real edit, and
the learner must learn exactly the marked fixes; last, the similar and lookalike code
arrives, and the warnings the session records in ``findings`` are scored against the
labels (:mod:`daemon.scenarios.labelled`). Learning speed is the time from the fixes'
write to the last fix learned. Every wait is bounded by ``--duration``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from daemon.read.analysis.rows import epoch
from daemon.scenarios import harness
from daemon.scenarios.labelled import (
    LEARNING_SET,
    WARNING_PREFIX,
    cases,
    elsewhere,
    expected_learning,
    score,
)
from daemon.scenarios.scratch import scratch_copy
from daemon.scenarios.settings import Settings
from daemon.scenarios.verdict import Bar, Outcome, Unmeasured, metrics_of

NAME = "learning"
PREFIX = "realworld_learning"
CAPABILITY = "pattern_probe"
#: An upper bound: the run ends once the similar code is analyzed.
DEFAULT_DURATION_S = 300.0

# The thresholds of the learner's own accuracy test (tests/test_pattern_probe.py).
BARS = (
    Bar("learning_recall", "min", 0.9, "marked fixes that were learned"),
    Bar("learning_precision", "min", 0.9, "learned fixes that were marked"),
    Bar("precision", "min", 0.9, "warnings on similar code that were expected"),
    Bar("recall", "min", 0.8, "expected warnings that were given"),
    Bar("false_positive_rate", "max", 0.05, "warnings on lookalike lines labelled 'none'"),
    harness.BACKLOG_BAR,
)


def _write(root: Path, relative: str, source: Path) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def run(settings: Settings) -> Outcome:
    workspace = scratch_copy(settings.project, settings.workdir / "learning")
    labelled_cases = cases(LEARNING_SET)
    edited = {f"{PREFIX}/src/{case.name}.py": case for case in labelled_cases}
    for path, case in edited.items():
        _write(workspace, path, case / "before.py")
    others = [(path, source) for case in labelled_cases
              for path, source in elsewhere(case, f"{PREFIX}/other")]
    expected = expected_learning(
        (path, (case / "after.py").read_text(encoding="utf-8")) for path, case in edited.items())
    tester = harness.open_tester(settings, monitor_interval=5.0)
    try:
        deadline = harness.Deadline.after(settings.duration_s)
        session_id = tester.start_test_session(workspace, 0, mode="continuous")
        left = harness.drained(tester, session_id, deadline)
        premature = len(_warnings(settings.db_path, session_id))

        fixed_at, since = time.monotonic(), harness.now_ts()
        for path, case in edited.items():
            _write(workspace, path, case / "after.py")
        harness.wait_until(lambda: harness.analyzed_since(
            tester, session_id, list(edited), CAPABILITY, since), deadline.left(), 0.2)
        learned_s = _learning_time(settings.db_path, session_id, fixed_at)

        since = harness.now_ts()
        for path, source in others:
            _write(workspace, path, source)
        harness.wait_until(lambda: harness.analyzed_since(
            tester, session_id, [p for p, _ in others], CAPABILITY, since),
            deadline.left(), 0.2)
        tester.stop_session(session_id)
    finally:
        tester.close()
    learned = [(str(r["path"]), int(r["line"]), str(r["shape"])) for r in harness.rows(
        settings.db_path, "SELECT path, line, shape FROM learned_patterns WHERE session_id = ?",
        (session_id,))]
    accuracy = score(expected, learned,
                     [(p, s.read_text(encoding="utf-8")) for p, s in others],
                     _warnings(settings.db_path, session_id))
    metrics = metrics_of({
        "fixes_expected": (accuracy.learned_expected, ""),
        "fixes_learned": (accuracy.learned_right, ""),
        "learning_recall": (accuracy.learning_recall, "ratio"),
        "learning_precision": (accuracy.learning_precision, "ratio"),
        "learning_seconds": (learned_s, "s"),
        "true_positives": (accuracy.true_positives, ""),
        "false_positives": (accuracy.false_positives, ""),
        "false_negatives": (accuracy.false_negatives, ""),
        "precision": (accuracy.precision, "ratio"),
        "recall": (accuracy.recall, "ratio"),
        "false_positive_rate": (accuracy.false_positive_rate, "ratio"),
        "false_negative_rate": (accuracy.false_negative_rate, "ratio"),
        "warnings_before_learning": (premature, ""),
        harness.BACKLOG: (left.files, "files"),
    })
    notes = (f"labelled set: {len(labelled_cases)} cases ({len(expected)} fixes to learn, "
             f"{accuracy.negatives} lookalike lines), applied in a copy of {settings.project}",
             *harness.backlog_note(left))
    return Outcome(metrics, notes, (session_id,))


def _warnings(db_path: Path, session_id: str) -> set[tuple[str, int, str]]:
    return {(str(r["path"]), int(r["line"]), str(r["rule"])) for r in harness.rows(
        db_path, "SELECT path, line, rule FROM findings WHERE session_id = ? AND rule LIKE ?",
        (session_id, f"{WARNING_PREFIX}%"))}


def _learning_time(db_path: Path, session_id: str, fixed_at: float) -> float | Unmeasured:
    """Seconds from the fixes' write to the last ``pattern_learned`` event (its log time)."""
    last = harness.rows(db_path, "SELECT MAX(ts) AS ts FROM events WHERE session_id = ? AND "
                                 "type = 'pattern_learned'", (session_id,))
    moment = epoch(last[0]["ts"]) if last else None
    if moment is None:
        return Unmeasured("no fix was learned")
    return max(0.0, moment - (time.time() - (time.monotonic() - fixed_at)))
