"""``code_assistant`` on real workspaces: jedi in a worker, checked against a real index."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS, AnalysisResult, FileFailure
from analyzers.code_assist.assistant import CodeAssistant
from analyzers.code_index.indexer import CodeIndexer
from daemon.log.database import Database
from daemon.log.events import Envelope, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.run.recovery import RetryPolicy
from daemon.run.runner import Runner

SESSION = "test_20261207_160000"
CORE = """\
def add(a, b):
    return a + b


class Box:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)
        return self
"""
APP = """\
from pkg.core import Box, add
from pkg import core


def main():
    box = Box()
    box.put(add(1, 2))
    return core.add(box.items[0], 4)
"""
# jedi follows the chain of assignments by recursion: completing after the last dot
# raises RecursionError (jedi 0.19 and 0.20), a real failure on real, valid code.
CHAIN = "x0 = 'a'\n" + "".join(f"x{i} = x{i - 1}\n" for i in range(1, 3000)) + \
    "x2999.upper()\n"


def snapshot(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "core.py").write_text(CORE)
    (root / "pkg" / "app.py").write_text(APP)
    return root


def index(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "state" / "index.db"
    indexer = CodeIndexer(index_path=path)
    try:
        indexer.analyze(root, FULL_PASS)
    finally:
        indexer.close()
    return path


@pytest.fixture
def assistant(tmp_path: Path, workspace: Path) -> Iterator[CodeAssistant]:
    analyzer = CodeAssistant(index_path=index(tmp_path, workspace),
                             cache_path=tmp_path / "state" / "jedi")
    yield analyzer
    analyzer.close()


def test_definitions_across_modules_agree_with_the_index_and_completions_hold_the_attribute(
        tmp_path: Path, workspace: Path, assistant: CodeAssistant) -> None:
    before = snapshot(workspace)
    result = assistant.analyze(workspace, FULL_PASS)
    data = result.data
    assert result.failures == ()
    assert result.summary.startswith("3 capabilities, ")
    assert data["mode"] == "full" and data["files"] == 2  # __init__.py has nothing to ask
    assert data["skipped"] == {"nothing_to_ask": 1}
    # In app.py, Box, add and core (a module), each resolved into pkg/core.py; completions
    # after box., core. and box. there, self. and self.items. in core.py.
    assert data["requests"] == {"definition": 3, "references": 3, "completion": 5}
    assert data["agreement"] == {"definition": 1.0, "references": 1.0, "completion": 1.0}
    assert data["accuracy"] == 1.0
    assert set(data["latency_ms"]) == {"definition", "references", "completion"}
    assert all(set(v) == {"p50", "p95"} for v in data["latency_ms"].values())
    assert len(json.dumps(data)) < 2_000  # figures, not a list of requests
    # jedi's caches went where they were told, and nothing was written in the workspace.
    assert snapshot(workspace) == before
    cache = tmp_path / "state" / "jedi"
    assert any(cache.iterdir())
    # Private, like every file realworld writes: the worker tightened its umask for jedi.
    modes = {p.stat().st_mode & 0o777 for p in [cache, *cache.rglob("*")]}
    assert modes <= {0o700, 0o600}


@pytest.mark.parametrize("prepared", [False, True], ids=["called", "prepared-then-called"])
def test_a_full_pass_asks_only_about_files_changed_since_the_last_one(
        tmp_path: Path, workspace: Path, prepared: bool) -> None:
    def full_pass() -> dict[str, object]:
        # A new analyzer each time, as each ``run --once`` is a new process.
        analyzer = CodeAssistant(index_path=index(tmp_path, workspace),
                                 cache_path=tmp_path / "state" / "jedi")
        try:
            if prepared:  # as the runner does: the survey in prepare's thread, used by the call
                analyzer.prepare(workspace, FULL_PASS)
            return assistant_data(analyzer.analyze(workspace, FULL_PASS))
        finally:
            analyzer.close()

    def assistant_data(result: AnalysisResult) -> dict[str, object]:
        return {**result.data, "summary": result.summary}

    first = full_pass()
    assert first["files"] == 2 and "unchanged" not in first["skipped"]  # type: ignore[operator]
    again = full_pass()
    assert again["files"] == 0 and again["skipped"] == {"unchanged": 3}
    assert again["summary"] == "0 capabilities, 0 requests, 3 files unchanged since the last pass"
    app = workspace / "pkg" / "app.py"
    app.write_text(APP + "\n\ndef extra():\n    return add(2, 3)\n")
    (workspace / "pkg" / "new.py").write_text("from pkg.core import add\n\nx = add(1, 2)\n")
    edited = full_pass()
    assert edited["files"] == 2 and edited["skipped"] == {"unchanged": 2}
    requests = edited["requests"]
    assert isinstance(requests, dict) and requests["definition"] >= 2
    assert full_pass()["skipped"] == {"unchanged": 4}


def test_a_change_batch_asks_about_the_files_it_names(workspace: Path,
                                                     assistant: CodeAssistant) -> None:
    (workspace / "pkg" / "more.py").write_text(
        "from pkg.core import add\n\ntotal = add(1, 2)\nname = 'x'.upper()\n")
    result = assistant.analyze(workspace, ["pkg/more.py"])
    assert result.data["mode"] == "changes" and result.data["files"] == 1
    # Not indexed yet: add is still defined where the index says, upper is a str method.
    assert result.data["requests"] == {"definition": 1, "references": 1, "completion": 1}
    assert result.data["accuracy"] == 1.0


def test_without_an_index_answers_are_timed_and_only_completions_judged(
        tmp_path: Path, workspace: Path) -> None:
    analyzer = CodeAssistant(index_path=tmp_path / "none.db", cache_path=tmp_path / "jedi",
                             processes=0)
    result = analyzer.analyze(workspace, ["pkg/app.py"])
    data = result.data
    assert data["index_path"] is None
    assert data["judged"]["definition"] == 0 and data["agreement"]["definition"] is None
    assert data["requests"]["definition"] >= 1
    assert data["accuracy"] == data["agreement"]["completion"] == 1.0


def test_a_file_jedi_fails_on_is_named_as_a_crash_and_not_asked_again_by_a_pass(
        workspace: Path, assistant: CodeAssistant) -> None:
    (workspace / "chain.py").write_text(CHAIN)
    result = assistant.analyze(workspace, ["chain.py", "pkg/app.py"])
    assert result.failures == (FileFailure("chain.py", "crash",
                                           "RecursionError: nested too deeply"),)
    assert result.data["files"] == 1 and result.data["skipped"] == {"failed": 1}
    assert result.data["problems"] == [{"path": "chain.py",
                                        "reason": "crash: RecursionError: nested too deeply"}]
    full = assistant.analyze(workspace, FULL_PASS)
    assert full.failures == () and full.data["skipped"]["failed_before"] == 1


def test_a_file_past_the_per_file_bound_is_a_timeout(tmp_path: Path, workspace: Path) -> None:
    # Real work the bound cuts short: jedi parses and infers 6,000 functions.
    (workspace / "big.py").write_text("import os\n\n" + "".join(
        f"def f{i}(path):\n    return os.path.join(path, f{i - 1 if i else 0}.__name__)\n"
        for i in range(6000)))
    analyzer = CodeAssistant(index_path=index(tmp_path, workspace),
                             cache_path=tmp_path / "jedi", file_timeout_s=0.05)
    try:
        result = analyzer.analyze(workspace, ["big.py"])
    finally:
        analyzer.close()
    assert result.failures == (FileFailure("big.py", "timeout", "timed out after 0.05s"),)
    assert result.data["skipped"] == {"timed_out": 1}


def test_quarantined_files_are_never_opened(workspace: Path,
                                            assistant: CodeAssistant) -> None:
    assistant.exclude(frozenset({"pkg/app.py"}))
    result = assistant.analyze(workspace, ["pkg/app.py"])
    assert result.data["skipped"] == {"quarantined": 1}
    assert result.data["requests"] == {"definition": 0, "references": 0, "completion": 0}
    assert result.summary == "0 capabilities, 0 requests"


def test_the_runner_quarantines_a_file_jedi_keeps_failing_on(tmp_path: Path, workspace: Path,
                                                             assistant: CodeAssistant) -> None:
    (workspace / "chain.py").write_text(CHAIN)
    db = Database.open(tmp_path / "log.db", create=True)
    with EventStore(db) as store:
        store.append([Envelope(SessionStarted(SESSION, str(workspace), 5))])
        runner = Runner([assistant], store.append, SESSION, workspace,
                        retry=RetryPolicy(attempts=2, base_delay_s=0.001))
        runner.run_batch(["chain.py", "pkg/app.py"])
    catch_up(db)
    conn = db.connect_readonly()
    try:
        held = conn.execute("SELECT capability, path, crashes FROM quarantined_files").fetchall()
        rows = conn.execute("SELECT result_data FROM activities WHERE capability = ? "
                            "ORDER BY timestamp", ("code_assistant",)).fetchall()
    finally:
        conn.close()
    assert held == [("code_assistant", "chain.py", 2)]
    first = json.loads(rows[0][0])
    assert first["accuracy"] == 1.0 and first["files"] == 1
    assert os.path.exists(workspace / "chain.py")  # quarantine never touches the file


def test_an_interrupted_assistant_asks_about_no_file(
        workspace: Path, assistant: CodeAssistant) -> None:
    assistant.interrupt()
    result = assistant.analyze(workspace, FULL_PASS)
    assert result.data["files"] == 0 and result.failures == ()
    assert sum(result.data["requests"].values()) == 0


CONCURRENT = """
import sys, threading, time
from pathlib import Path
from analyzers.code_assist.assistant import CodeAssistant
from analyzers.base import FULL_PASS

root, index, cache = (Path(p) for p in sys.argv[1:4])
analyzer = CodeAssistant(index_path=index, cache_path=cache, processes=0)
end = time.monotonic() + 3.0
failures = []

def calls():
    while time.monotonic() < end:
        if not analyzer.analyze(root, FULL_PASS).success:
            failures.append(1)

def closes():
    while time.monotonic() < end:
        analyzer.close()  # the store, under whichever call is reading it

threads = [threading.Thread(target=calls) for _ in range(3)] + [threading.Thread(target=closes)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(failures))
"""


def test_calls_that_overlap_share_the_index_connection_without_crashing(
        tmp_path: Path, workspace: Path) -> None:
    # A call the runner gave up on can still run beside the next one; SQLite crashes the
    # whole process when one closes the connection under the other, so this runs apart.
    import subprocess
    import sys

    from conftest import REPO_ROOT

    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CONCURRENT,
                           str(workspace), str(index(tmp_path, workspace)),
                           str(tmp_path / "jedi")], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "0"
