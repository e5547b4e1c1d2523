"""``pattern_probe`` on real directories: findings, learning, bad input, restarts, and its accuracy.

The accuracy test applies the labelled fixes of ``tests/data/learning`` (a link to the
shipped set, ``daemon/scenarios/learning-set``) as real edits in a workspace and scores
the learner's precision, recall and false positive rate as the learning scenario does.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from poolworkers import live_workers

from analyzers.base import FULL_PASS, AnalysisResult, FileFailure, LearnedPattern
from analyzers.patterns.file_measure import make_file_measurer
from analyzers.patterns.probe import MAX_LISTED, PatternProbe
from daemon.log.database import Database
from daemon.log.events import Envelope, PatternLearned, SessionStarted
from daemon.log.store import EventStore, read_events
from daemon.projections.projector import catch_up
from daemon.projections.replay import rebuild
from daemon.read.learned import seed_analyzers
from daemon.read.queries import load_learned
from daemon.run.runner import Runner
from daemon.scenarios.labelled import (
    Accuracy,
    cases,
    elsewhere,
    expected_learning,
    marks,
    score,
)

import unprivileged
from conftest import TESTS_ROOT

DATA = TESTS_ROOT / "data" / "learning"
SESSION = "test_20260301_090000"
is_root = hasattr(os, "geteuid") and os.geteuid() == 0

BUSY = "def busy(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n"
                                   for i in range(12)) + "    return -1\n"
YAML_BEFORE = ("import yaml\n\n\ndef load(path):\n    with open(path) as f:\n"
               "        return yaml.load(f)\n")
YAML_AFTER = YAML_BEFORE.replace("yaml.load(f)", "yaml.safe_load(f)")
YAML_ELSEWHERE = "from yaml import load\n\n\ndef read(stream):\n    return load(stream)\n"


def write(root: Path, relative: str, content: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)


def warned(result: AnalysisResult) -> set[tuple[str, int, str]]:
    return {(f.path, f.line, f.rule) for f in result.findings if f.rule.startswith("learned:")}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Result caches in the test's own directory (probes of one test share it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("REALWORLD_INDEX_DB", raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, "app/config.py", YAML_BEFORE)
    write(root, "lib/reader.py", YAML_ELSEWHERE)
    write(root, "lib/busy.py", BUSY)
    write(root, "README.md", "# not python\n")
    write(root, ".venv/lib/site.py", "import yaml\nyaml.load(x)\n")  # ignored
    return root


def test_it_is_an_analyzer_for_python_files() -> None:
    probe = PatternProbe()
    assert (probe.name, probe.activity_type) == ("pattern_probe", "pattern_probe")
    assert probe.applies_to("a/b.py") and probe.applies_to("tool.pyw")
    assert not probe.applies_to("README.md") and not probe.applies_to(".venv/x.py")


def test_a_full_pass_measures_every_python_file(workspace: Path) -> None:
    result = PatternProbe().analyze(workspace, FULL_PASS)
    assert result.data["mode"] == "full" and result.data["files"] == 3
    assert result.data["patterns"] == {"yaml_load": 2}
    (finding,) = result.findings
    assert (finding.rule, finding.path, finding.line, finding.severity) == (
        "complexity", "lib/busy.py", 1, "medium")
    assert result.learned == () and result.resolved == ()
    assert result.summary == "2 patterns, 0 learned, 1 complex function"


def test_a_fix_is_learned_and_warns_on_similar_code_at_once(workspace: Path) -> None:
    probe = PatternProbe()
    probe.analyze(workspace, FULL_PASS)
    write(workspace, "app/config.py", YAML_AFTER)
    result = probe.analyze(workspace, ["app/config.py"])
    (pattern,) = result.learned
    assert (pattern.shape, pattern.path, pattern.line) == ("yaml_load", "app/config.py", 6)
    # lib/reader.py did not change, but it still holds the shape that was just fixed.
    assert warned(result) == {("lib/reader.py", 5, "learned:yaml_load")}
    (warning,) = [f for f in result.findings if f.rule == "learned:yaml_load"]
    assert "similar to the fix in app/config.py:6" in warning.message
    assert result.summary == "0 patterns, 1 learned, 1 warning"
    assert result.data["learned_total"] == 1

    # New code with the shape is warned about too; fixed code has its warning resolved.
    write(workspace, "lib/new.py", "import yaml\n\ndef f(s):\n    return yaml.load(s)\n")
    result = probe.analyze(workspace, ["lib/new.py"])
    assert warned(result) == {("lib/new.py", 4, "learned:yaml_load")} and result.learned == ()
    write(workspace, "lib/reader.py", YAML_ELSEWHERE.replace("load", "safe_load"))
    result = probe.analyze(workspace, ["lib/reader.py"])
    assert result.resolved == (warning.fingerprint,)
    # That was a second fix of the shape: learned too, and the warnings still cite the first.
    assert [(p.path, p.line) for p in result.learned] == [("lib/reader.py", 5)]
    assert warned(result) == {("lib/new.py", 4, "learned:yaml_load")}
    assert all("app/config.py:6" in f.message for f in result.findings)


def test_findings_are_resolved_when_fixed_or_deleted(workspace: Path) -> None:
    probe = PatternProbe()
    (complexity,) = probe.analyze(workspace, FULL_PASS).findings
    write(workspace, "lib/busy.py", "def busy(x):\n    return x\n")
    result = probe.analyze(workspace, ["lib/busy.py"])
    assert result.findings == () and result.resolved == (complexity.fingerprint,)
    write(workspace, "lib/busy.py", BUSY)
    assert probe.analyze(workspace, ["lib/busy.py"]).findings[0] == complexity
    (workspace / "lib/busy.py").unlink()
    result = probe.analyze(workspace, ["lib/busy.py"])
    assert result.resolved == (complexity.fingerprint,) and result.findings == ()
    assert result.data["skipped"] == {"missing": 1}


def test_a_full_pass_resolves_files_that_went_away(workspace: Path) -> None:
    probe = PatternProbe()
    (complexity,) = probe.analyze(workspace, FULL_PASS).findings
    (workspace / "lib/busy.py").unlink()
    assert probe.analyze(workspace, FULL_PASS).resolved == (complexity.fingerprint,)


def test_an_unchanged_file_is_not_measured_again(workspace: Path) -> None:
    probe = PatternProbe()
    first = probe.analyze(workspace, FULL_PASS)
    second = probe.analyze(workspace, FULL_PASS)
    assert second.data["analyzed"] == 0 and second.data["unchanged"] == 3
    assert second.findings == first.findings and second.resolved == ()


def test_a_save_that_does_not_parse_keeps_the_findings_and_the_lesson(workspace: Path) -> None:
    probe = PatternProbe()
    probe.analyze(workspace, FULL_PASS)
    write(workspace, "lib/busy.py", BUSY + "def broken(:\n")
    write(workspace, "app/config.py", YAML_BEFORE.replace("return yaml.load(f)", "return yaml."))
    result = probe.analyze(workspace, ["lib/busy.py", "app/config.py"])
    assert result.resolved == () and [f.rule for f in result.findings] == ["complexity"]
    assert result.data["notes"] == {"does not parse": 2}
    write(workspace, "app/config.py", YAML_AFTER)  # the edit is finished
    assert [p.shape for p in probe.analyze(workspace, ["app/config.py"]).learned] == [
        "yaml_load"]


def test_a_file_that_does_not_parse_still_gets_warnings(workspace: Path) -> None:
    probe = PatternProbe()
    probe.analyze(workspace, FULL_PASS)
    write(workspace, "app/config.py", YAML_AFTER)
    probe.analyze(workspace, ["app/config.py"])
    write(workspace, "legacy.py", "print 'python 2'\ndata = yaml.load(stream)\n")
    result = probe.analyze(workspace, ["legacy.py"])
    assert warned(result) == {("legacy.py", 2, "learned:yaml_load")}


# --- bad input ----------------------------------------------------------------


def test_bad_files_never_raise_and_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "good.py", "def f():\n    return 1\n")
    write(root, "binary.py", b"\x00\x01\x02 not text")
    write(root, "huge.py", "x = 1\n" * 60_000)
    write(root, "latin1.py", "# -*- coding: latin-1 -*-\nname = 'café'\nif name == None:\n"
                             "    pass\n".encode("latin-1"))
    write(root, "undeclared.py", b"name = '\xff\xfe'\nx = 1\n")  # not UTF-8, no declaration
    write(root, "nul.py", b"y = 2\n" * 2000 + b"\x00\n")  # a NUL past the sniffed head
    write(root, "deep.py", "x = " + "+".join(["a"] * 100_000) + "\n")  # RecursionError in ast
    write(root, "nested.py", "x = " + "(" * 300 + "1" + ")" * 300 + "\n")  # too many parens
    write(root, "dir with space/weird\nname.py", "x == None\n")
    write(root, os.fsdecode(b"bad-\xff.py"), "x = 1\n")
    os.symlink(root / "good.py", root / "link.py")
    os.symlink(root / "loop_a.py", root / "loop_b.py")
    os.symlink(root / "loop_b.py", root / "loop_a.py")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.py")
    locked = root / "locked.py"
    locked.write_text("x = 1\n")
    locked.chmod(0)
    try:
        probe = PatternProbe(max_file_bytes=300_000)
        result = probe.analyze(root, FULL_PASS)
        again = probe.analyze(root, ["missing.py", "../outside.py", "/etc/passwd.py", "good.py"])
    finally:
        locked.chmod(0o600)
    skipped = result.data["skipped"]
    assert skipped["binary"] == 1 and skipped["too_large"] == 1 and skipped["symlink"] == 3
    if hasattr(os, "mkfifo"):
        assert skipped["special"] == 1
    assert skipped.get("error", 0) == (0 if is_root else 1)  # as nobody: the test below
    assert result.data["notes"] == {"does not parse": 2, "too deeply nested": 1}
    assert {"latin1.py", "undeclared.py", "good.py"} <= _analyzed(result, root)
    assert result.data["patterns"]["eq_none"] == 2  # latin1.py, and the oddly named file
    assert again.data["skipped"] == {"missing": 1, "outside": 2}


PROBE_SCRIPT = """
import json
import sys
from pathlib import Path
from analyzers.base import FULL_PASS
from analyzers.patterns.probe import PatternProbe
result = PatternProbe().analyze(Path(sys.argv[1]), FULL_PASS)
print(json.dumps({"skipped": result.data["skipped"], "failures": len(result.failures)}))
"""


def test_an_unreadable_file_is_skipped_and_the_rest_is_probed() -> None:
    # Root reads mode-000 files, so as root the probe runs as nobody (see unprivileged).
    with unprivileged.sandbox() as box:
        write(box.dir, "good.py", "x = 1\nif x == None:\n    pass\n")
        write(box.dir, "locked.py", "y = 2\n")
        (box.dir / "locked.py").chmod(0)
        data = box.run(PROBE_SCRIPT, box.dir)
    assert data["skipped"] == {"error": 1}
    assert data["failures"] == 0  # unreadable is a skip, not a crash to retry


def test_a_crash_on_one_file_costs_only_that_file(workspace: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import analyzers.patterns.file_measure as module

    real = module.detect

    def explode(tree: object, path: str) -> object:
        if path == "lib/reader.py":
            raise KeyError("a bug")
        return real(tree, path)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "detect", explode)
    result = PatternProbe(processes=0).analyze(workspace, FULL_PASS)  # the patch is here
    assert result.data["skipped"] == {"failed": 1}
    assert result.data["problems"] == [{"path": "lib/reader.py", "reason": "failed: KeyError"}]
    assert result.data["analyzed"] == 2 and [f.path for f in result.findings] == ["lib/busy.py"]
    assert result.failures == (FileFailure("lib/reader.py", "crash", "KeyError"),)


def test_the_data_names_a_few_problems_and_counts_them_all(workspace: Path) -> None:
    result = PatternProbe().analyze(workspace, [f"../outside_{i}.py" for i in range(8)])
    assert result.data["skipped"] == {"outside": 8}
    assert result.data["problem_count"] == 8
    assert result.data["problems"] == [{"path": f"../outside_{i}.py",
                                        "reason": "outside the workspace"}
                                       for i in range(MAX_LISTED)]


def _analyzed(result: AnalysisResult, root: Path) -> set[str]:
    problems = {p["path"] for p in result.data["problems"]}
    names = {str(p.relative_to(root)) for p in root.rglob("*.py")}
    return names - problems


def test_a_budget_defers_files_to_the_next_call(workspace: Path) -> None:
    ticks = iter(range(1000))
    probe = PatternProbe(budget_s=1.5, clock=lambda: float(next(ticks)),  # one tick a file
                         processes=0)
    first = probe.analyze(workspace, FULL_PASS)
    assert first.data["files"] == 2 and first.data["deferred"] == 1
    assert first.summary.endswith("1 deferred")
    second = probe.analyze(workspace, ["app/config.py"])
    assert second.data["files"] == 2 and second.data["deferred"] == 0


# --- through the runner, the log and a restart ----------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "log.db", create=True)


def test_learned_patterns_survive_a_restart(db: Database, workspace: Path) -> None:
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(SESSION, str(workspace), 5))])
        runner = Runner([PatternProbe()], store.append, SESSION, workspace)
        runner.run_full_pass()
        write(workspace, "app/config.py", YAML_AFTER)
        (activity,) = runner.run_batch(["app/config.py"])
        assert activity.success and activity.result_data is not None
        assert activity.result_data["learned"] == 1
        assert activity.description is not None and "1 learned" in activity.description
    conn = db.connect_readonly()
    try:
        logged = [r.event for r in read_events(conn) if isinstance(r.event, PatternLearned)]
    finally:
        conn.close()
    assert [(e.shape, e.path, e.line) for e in logged] == [("yaml_load", "app/config.py", 6)]

    # A new process: the log is all there is. The projection feeds a fresh probe...
    catch_up(db)
    seeded = load_learned(db, workspace)
    assert [(p.shape, p.path, p.line, p.after_excerpt) for p in seeded] == [
        ("yaml_load", "app/config.py", 6, "yaml.safe_load(…)")]
    probe = PatternProbe()
    assert seed_analyzers(db, workspace, [probe]) == 1
    # ...which warns on similar code from its very first pass, without relearning.
    result = probe.analyze(workspace, FULL_PASS)
    assert warned(result) == {("lib/reader.py", 5, "learned:yaml_load")}
    assert result.learned == ()
    # Another workspace's session learned nothing: nothing is seeded there.
    assert load_learned(db, workspace.parent / "elsewhere") == ()


def test_the_projection_replays_to_the_same_rows(db: Database) -> None:
    events = [SessionStarted(SESSION, "/ws", 5)] + [
        PatternLearned(SESSION, "eq_none", "compare with is None", "a.py", 3, "… == None",
                       "… is None") for _ in range(2)]
    with EventStore(db) as store:
        store.append([Envelope(e) for e in events])
    catch_up(db)
    conn = db.connect_readonly()
    try:
        live = conn.execute("SELECT * FROM learned_patterns").fetchall()
    finally:
        conn.close()
    rebuild(db)
    conn = db.connect_readonly()
    try:
        replayed = conn.execute("SELECT * FROM learned_patterns").fetchall()
        (row,) = conn.execute("SELECT shape, path, line, times_learned FROM learned_patterns")
    finally:
        conn.close()
    assert live == replayed and row == ("eq_none", "a.py", 3, 2)


def test_seeding_is_best_effort(tmp_path: Path) -> None:
    class Broken:
        name = "broken"
        activity_type = "broken"

        def applies_to(self, path: str) -> bool:
            return True

        def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
            return AnalysisResult("")

        def seed(self, patterns: Sequence[LearnedPattern]) -> None:
            raise RuntimeError("no")

    db = Database.open(tmp_path / "log.db", create=True)
    assert seed_analyzers(db, tmp_path, [Broken()]) == 0  # nothing learned: nothing to give
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(SESSION, str(tmp_path), 5)),
                      Envelope(PatternLearned(SESSION, "eq_none", "x", "a.py", 1))])
    assert seed_analyzers(db, tmp_path, [Broken()]) == 1  # its failure is logged, not raised


# --- learning accuracy over the labelled set --------------------------------------
# The set and its scoring are the learning scenario's (daemon.scenarios.labelled): this
# test drives the probe directly, the scenario drives it through a real session.


def measure(root: Path, *, similar_first: bool) -> Accuracy:
    """Apply every labelled fix as an edit; then (or before: ``similar_first``) put the
    similar and lookalike code in the workspace, and score the warnings."""
    probe = PatternProbe(budget_s=None)
    labelled_cases = cases(DATA)
    for case in labelled_cases:
        shutil.copy(case / "before.py", _target(root, f"src/{case.name}.py"))
    others = [(path, source) for case in labelled_cases for path, source in elsewhere(case)]
    if similar_first:
        for path, source in others:
            shutil.copy(source, _target(root, path))
    baseline = probe.analyze(root, FULL_PASS)
    assert warned(baseline) == set(), "nothing is learned yet, so nothing may warn"
    edits: list[tuple[str, str]] = []
    learned: list[tuple[str, int, str]] = []
    warnings: set[tuple[str, int, str]] = set()
    for case in labelled_cases:
        path = f"src/{case.name}.py"
        after = (case / "after.py").read_text(encoding="utf-8")
        edits.append((path, after))
        (root / path).write_text(after, encoding="utf-8")
        result = probe.analyze(root, [path])
        learned += [(p.path, p.line, p.shape) for p in result.learned]
        warnings |= warned(result)
    if not similar_first:
        for path, source in others:
            shutil.copy(source, _target(root, path))
        warnings |= warned(probe.analyze(root, [path for path, _ in others]))
    return score(expected_learning(edits), learned,
                 [(path, source.read_text(encoding="utf-8")) for path, source in others],
                 warnings)


def _target(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_the_labelled_set_is_big_enough() -> None:
    fixes = [c for c in cases(DATA) if marks((c / "after.py").read_text(), "learned")]
    controls = [c for c in cases(DATA) if not marks((c / "after.py").read_text(), "learned")]
    assert len(fixes) >= 10 and len(controls) >= 3
    positives = sum(1 for c in fixes for _, s in elsewhere(c)
                    for v in marks(s.read_text(), "expect").values() if v != "none")
    assert positives >= 20


@pytest.mark.parametrize("similar_first", [False, True], ids=["new-code", "existing-code"])
def test_learning_accuracy(tmp_path: Path, similar_first: bool,
                           capsys: pytest.CaptureFixture[str]) -> None:
    accuracy = measure(tmp_path, similar_first=similar_first)
    with capsys.disabled():
        sys.stdout.write(
            f"\nlearning accuracy ({'existing' if similar_first else 'new'} code): "
            f"learned {accuracy.learned_right}/{accuracy.learned_expected} "
            f"(wrong {accuracy.learned_wrong}); warnings precision {accuracy.precision:.3f} "
            f"recall {accuracy.recall:.3f} false positive rate "
            f"{accuracy.false_positive_rate:.3f} ({accuracy.true_positives} TP, "
            f"{accuracy.false_positives} FP, {accuracy.false_negatives} FN, "
            f"{accuracy.negatives} negatives)\n")
    assert accuracy.learning_recall >= 0.9 and accuracy.learning_precision >= 0.9
    assert accuracy.precision >= 0.9 and accuracy.recall >= 0.8
    assert accuracy.false_positive_rate <= 0.05


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_in_the_workspace_is_skipped(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        monkeypatch.chdir(root)  # a short relative name: socket paths are limited to ~100 bytes
        server.bind("s.py")
        result = PatternProbe().analyze(root, ["s.py"])
    finally:
        server.close()
    assert result.data["skipped"] == {"special": 1}


# --- restarts: the result cache ---------------------------------------------------------


def test_a_restarted_probe_measures_only_what_changed_and_resolves_what_went_away(
        workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "state" / "log.results.db"
    first_probe = PatternProbe(cache_path=cache)
    initial = first_probe.analyze(workspace, FULL_PASS)
    busy_finding = next(f.fingerprint for f in initial.findings if f.rule == "complexity")
    write(workspace, "app/config.py", YAML_AFTER)  # learned: reader.py is warned about
    first = first_probe.analyze(workspace, ["app/config.py"])
    assert first.learned and warned(first) == {("lib/reader.py", 5, "learned:yaml_load")}
    first_probe.close()  # the daemon stops
    write(workspace, "lib/busy.py", "def calm(x):\n    return x\n")  # fixed while down
    (workspace / "lib" / "reader.py").unlink()  # and deleted while down
    warning = next(f.fingerprint for f in first.findings if f.path == "lib/reader.py")

    probe = PatternProbe(cache_path=cache)
    probe.seed(first.learned)  # what the session reads back from the log
    second = probe.analyze(workspace, FULL_PASS)
    assert second.data["analyzed"] == 1 and second.data["unchanged"] == 1
    assert set(second.resolved) == {busy_finding, warning}
    assert second.findings == () and second.learned == ()
    third = PatternProbe(cache_path=cache).analyze(workspace, FULL_PASS)
    assert third.data["analyzed"] == 0 and third.resolved == ()


def test_a_fix_learned_before_a_crash_is_not_announced_again(workspace: Path,
                                                             tmp_path: Path) -> None:
    cache = tmp_path / "state" / "log.results.db"
    first = PatternProbe(cache_path=cache)
    first.analyze(workspace, FULL_PASS)
    first.close()
    before_fix = tmp_path / "before-fix.db"
    shutil.copy(cache, before_fix)  # the cache as a kill -9 leaves it: the fix not committed
    write(workspace, "app/config.py", YAML_AFTER)
    learned = PatternProbe(cache_path=cache).analyze(workspace, FULL_PASS).learned
    assert [(p.shape, p.path) for p in learned] == [("yaml_load", "app/config.py")]

    # The restarted probe sees the same "before" and "after" again, but the log (its seed)
    # already holds the lesson: it warns as it did, and announces nothing new.
    restarted = PatternProbe(cache_path=before_fix)
    restarted.seed(learned)
    again = restarted.analyze(workspace, FULL_PASS)
    assert (again.data["analyzed"], again.data["unchanged"]) == (1, 2)  # config.py: again
    assert again.learned == () and again.data["learned"] == 0
    assert warned(again) == {("lib/reader.py", 5, "learned:yaml_load")}


def test_a_fix_made_while_down_is_still_learned(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "state" / "log.results.db"
    first = PatternProbe(cache_path=cache)
    first.analyze(workspace, FULL_PASS)
    first.close()
    write(workspace, "app/config.py", YAML_AFTER)
    # The "before" of config.py came back from the cache, so the fix still teaches.
    result = PatternProbe(cache_path=cache).analyze(workspace, FULL_PASS)
    assert [(p.shape, p.path) for p in result.learned] == [("yaml_load", "app/config.py")]
    assert result.data["analyzed"] == 1 and result.data["unchanged"] == 2


def test_excluded_paths_are_never_opened(workspace: Path) -> None:
    reader, busy = workspace / "lib" / "reader.py", workspace / "lib" / "busy.py"
    for path in (reader, busy):
        os.utime(path, (1, path.stat().st_mtime))  # an old atime: any read moves it
    probe = PatternProbe()
    probe.exclude(frozenset({"lib/reader.py"}))
    full = probe.analyze(workspace, FULL_PASS)
    batch = probe.analyze(workspace, ["lib/reader.py"])
    assert full.data["skipped"] == {"quarantined": 1} and full.data["files"] == 2
    assert batch.data["skipped"] == {"quarantined": 1} and batch.data["files"] == 0
    assert full.resolved == batch.resolved == ()
    if busy.stat().st_atime == 1:
        pytest.skip("this file system does not record reads (noatime)")
    assert reader.stat().st_atime == 1


# --- in worker processes ------------------------------------------------------------


def _comparable(result: AnalysisResult) -> tuple[object, ...]:
    return (result.summary, result.data, result.findings, result.resolved, result.learned,
            result.failures, result.remaining)


def test_workers_give_exactly_what_the_thread_gives(tmp_path: Path) -> None:
    template = tmp_path / "template"
    for index in range(12):  # more files than workers, so they finish out of order
        write(template, f"pkg/m{index}.py",
              (BUSY if index % 3 == 0 else YAML_BEFORE) * (index + 1))
    write(template, "pkg/broken.py", "def half(:\n")
    edits = {"pkg/m1.py": YAML_AFTER, "pkg/m3.py": "x = 1\n", "pkg/broken.py": BUSY}
    results: dict[int, list[tuple[object, ...]]] = {}
    for processes in (0, 2):
        root = tmp_path / f"ws{processes}"
        shutil.copytree(template, root)
        probe = PatternProbe(processes=processes, cache_path=tmp_path / f"cache{processes}.db")
        try:
            runs = [probe.analyze(root, FULL_PASS)]
            for path, text in edits.items():
                write(root, path, text)
            runs.append(probe.analyze(root, list(edits)))
        finally:
            probe.close()
        results[processes] = [_comparable(r) for r in runs]
    assert results[2] == results[0]
    assert results[0][1][4], "the yaml fix was learned"


def test_a_file_past_the_per_file_bound_is_skipped_and_the_rest_measured(
        workspace: Path) -> None:
    # Real work the bound cuts short: tokenizing and measuring 40,000 statements.
    write(workspace, "gen/huge.py", "".join(f"v{i} = {i}\n" for i in range(40_000)))
    probe = PatternProbe(file_timeout_s=0.05, budget_s=None)
    try:
        first = probe.analyze(workspace, FULL_PASS)
        assert first.data["skipped"] == {"timed_out": 1}
        assert first.data["problems"] == [{"path": "gen/huge.py",
                                           "reason": "timed out after 0.05s"}]
        assert first.failures == (FileFailure("gen/huge.py", "timeout", "timed out after 0.05s"),)
        assert first.data["analyzed"] == 3  # every other file
        # A pass does not spend the bound on the same bytes again; a call naming it does.
        again = probe.analyze(workspace, FULL_PASS)
        assert again.data["skipped"] == {"failed_before": 1} and again.failures == ()
        named = probe.analyze(workspace, ["gen/huge.py"])
        assert named.data["skipped"] == {"timed_out": 1}
    finally:
        probe.close()
    # A restart remembers which bytes failed (the result cache holds it).
    restarted = PatternProbe(file_timeout_s=0.05, budget_s=None)
    try:
        assert restarted.analyze(workspace, FULL_PASS).data["skipped"] == {"failed_before": 1}
    finally:
        restarted.close()



def test_prepare_starts_a_worker_for_the_call_and_none_in_the_calling_thread_mode(
        workspace: Path) -> None:
    probe = PatternProbe(processes=2)
    try:
        probe.prepare(workspace, ["app/config.py", "README.md"])  # one Python file
        assert len(live_workers(make_file_measurer)) == 1
        assert probe.analyze(workspace, ["app/config.py"]).data["files"] == 1
    finally:
        probe.close()
    here = PatternProbe(processes=0)
    here.prepare(workspace, FULL_PASS)
    assert live_workers(make_file_measurer) == []
    assert here.analyze(workspace, FULL_PASS).data["files"] == 3
