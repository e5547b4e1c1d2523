"""A quiet workspace adds almost nothing to the log: passes after the first record what the
calls measured and where the findings stand, not every finding again (invariant 8).

A continuous session through the real API on a workspace with 2,100 findings (bandit's
B101, an ``assert`` in 100 files), probe passes every two seconds, nobody editing; then
one edit that adds one finding.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections import Counter
from pathlib import Path

from daemon.app.tester import RealWorldTester
from daemon.config import Config, ResourceLimits

from waiting import wait_for

FILES = 100
ASSERTS_PER_FILE = 21
QUIET_PASSES = 5
#: Per pass after the first, resource samples aside (the issue's bound).
MAX_EVENTS_PER_QUIET_PASS = 50
SAMPLES = ("metric_sampled", "resources_sampled")


def workspace(root: Path) -> Path:
    root.mkdir()
    for i in range(FILES):
        body = "".join(f"    assert value != {n}\n" for n in range(ASSERTS_PER_FILE))
        (root / f"module_{i:03d}.py").write_text(f"def check(value):\n{body}    return value\n")
    return root


def events(db: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT seq, type, json_extract(payload, '$.capability') "
                            "FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def scanner_summaries(db: Path) -> list[int]:
    return [seq for seq, kind, capability in events(db)
            if kind == "findings_summarized" and capability == "security_scanner"]


def end_of_first_pass(db: Path) -> int:
    """The last capability's first summary: the pattern probe may finish its first pass
    after the scanner's second summary, and its findings are first-pass work."""
    first: dict[str, int] = {}
    for seq, kind, capability in events(db):
        if kind == "findings_summarized":
            first.setdefault(capability, seq)
    return max(first.values())


def between(db: Path, after: int, upto: int) -> Counter[str]:
    return Counter(kind for seq, kind, _ in events(db)
                   if after < seq <= upto and kind not in SAMPLES)


def test_quiet_passes_add_at_most_fifty_events_and_an_edit_adds_its_finding(
        tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws")
    db = tmp_path / "state" / "log.db"
    db.parent.mkdir()
    config = Config(probe_interval=2.0, monitor_interval=5.0,
                    resource_limits=ResourceLimits(cpu_percent_max=100.0,
                                                   memory_percent_max=100.0,
                                                   disk_percent_max=100.0))
    with RealWorldTester(db, config=config) as tester:
        session_id = tester.start_test_session(root, mode="continuous")
        wait_for(lambda: len([s for s in scanner_summaries(db) if s > end_of_first_pass(db)])
                 >= QUIET_PASSES + 1, timeout=180)
        tester.catch_up()
        first_end = end_of_first_pass(db)
        first_pass = Counter(kind for seq, kind, _ in events(db) if seq <= first_end)
        assert first_pass["finding_detected"] >= FILES * ASSERTS_PER_FILE
        # Each quiet pass: from one scanner summary to the next, after the first pass.
        marks = [s for s in scanner_summaries(db) if s > first_end]
        assert len(marks) >= QUIET_PASSES + 1
        for after, upto in itertools.pairwise(marks):
            quiet = between(db, after, upto)
            assert sum(quiet.values()) <= MAX_EVENTS_PER_QUIET_PASS, quiet
            assert quiet["finding_detected"] == quiet["finding_resolved"] == 0, quiet

        # One edit that adds one finding: that finding's event, the calls' own, no more.
        before = marks[-1]
        with (root / "module_000.py").open("a") as handle:
            handle.write("\n\ndef another(value):\n    assert value\n")
        wait_for(lambda: any(kind == "finding_detected" for seq, kind, _ in events(db)
                             if seq > before), timeout=60)
        done = len(scanner_summaries(db)) + 1
        wait_for(lambda: len(scanner_summaries(db)) >= done, timeout=60)
        after_edit = between(db, before, scanner_summaries(db)[-1])
        assert after_edit["finding_detected"] == 1, after_edit
        assert after_edit["finding_resolved"] == 0, after_edit
        time.sleep(0.1)
        stats = tester.stop_session(session_id)
    assert stats["status"] == "stopped"
