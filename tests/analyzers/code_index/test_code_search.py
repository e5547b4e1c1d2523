"""The code_search probe: real symbols searched for, their rank and latency recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzers.base import FULL_PASS, to_json
from analyzers.code_index.indexer import CodeIndexer
from analyzers.code_index.search import (
    MAX_EXAMPLES,
    CodeSearch,
    ProbeQuery,
    probe_examples,
)
from analyzers.code_index.store import IndexStore

MODELS = """\
class Widget:
    def render(self):
        return render_widget(self)

def render_widget(widget):
    return "widget"
"""
VIEWS = """\
from app.models import Widget

def show(widget: Widget):
    w = Widget()
    return w.render()  # render it
"""
NOTES = "Widgets are rendered.\nWIDGET in caps.\nA 50% cut_off, a \"quote\" and ünïcödé.\n"


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    write(workspace, "app/models.py", MODELS)
    write(workspace, "app/views.py", VIEWS)
    write(workspace, "docs/notes.md", NOTES)
    return workspace


@pytest.fixture
def index_path(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "i.db"
    indexer = CodeIndexer(index_path=path)
    indexer.analyze(root, FULL_PASS)
    indexer.close()
    return path


def test_the_probe_searches_real_symbols_and_records_rank_and_latency(
        root: Path, index_path: Path) -> None:
    probe = CodeSearch(index_path=index_path, queries=10, seed=7)
    result = probe.analyze(root, ["app/views.py"])
    data = result.data
    # Classes and functions, dunders left out: Widget, render, render_widget, show.
    assert data["queries"] == 4
    # Every definition came first: no miss to name, and the slowest of the four.
    assert data["misses"] == []
    assert data["slowest"]["query"] in {"Widget", "render", "render_widget", "show"}
    assert data["slowest"]["ms"] == data["latency_ms"]["max"]
    assert data["hit_at_1"] == 1.0 and data["mean_reciprocal_rank"] == 1.0
    assert data["definition_first"] == 4 and data["found"] == 4
    assert set(data["latency_ms"]) == {"p50", "p95", "max", "mean"}
    assert 0 < data["latency_ms"]["p95"] <= data["latency_ms"]["max"]
    assert result.summary == "4 queries, definition first in 4"
    assert to_json(data) is not None
    assert probe.applies_to("app/views.py") and not probe.applies_to(".git/config")
    probe.close()


def test_a_name_defined_twice_ranks_one_of_them_first(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "a.py", "def run(): pass\n")
    write(root, "b.py", "def run(): pass\n")
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    _, results = CodeSearch(index_path=path, queries=5, seed=1).measure(root)
    assert results is not None
    assert results[0].definition_rank == 1 and results[0].rank in (1, 2)


def test_probe_samples_repeat_with_the_seed(root: Path, index_path: Path) -> None:
    def queries(seed: int) -> list[str]:
        probe = CodeSearch(index_path=index_path, queries=2, seed=seed)
        return [r.query for _ in range(3) for r in probe.measure(root)[1] or ()]
    assert queries(3) == queries(3)


def test_the_data_names_a_few_misses_however_many_queries(tmp_path: Path) -> None:
    results = [ProbeQuery(f"q{i}", "function", f"m{i}.py", i + 1, rank=1 if i % 3 == 0 else None
                          if i % 3 == 1 else 4, definition_rank=1, hits=9, ms=float(i % 7))
               for i in range(30)]
    data = probe_examples(results)
    misses = [r for r in results if r.rank != 1]
    assert len(misses) > MAX_EXAMPLES
    assert data["misses"] == [{"query": r.query, "path": r.path, "line": r.line,
                               "rank": r.rank, "definition_rank": 1}
                              for r in misses[:MAX_EXAMPLES]]
    assert data["slowest"] == {"query": "q6", "ms": 6.0}
    assert probe_examples([]) == {"misses": [], "slowest": None}
    # A real call with many queries, many of them ambiguous: still a few names.
    root = tmp_path / "ws"
    for i in range(30):
        write(root, f"m{i:02d}.py", f"def run():\n    return {i}\n\ndef only_{i}():\n    pass\n")
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    whole = CodeSearch(index_path=path, queries=25, seed=3).analyze(root, FULL_PASS).data
    assert whole["queries"] > MAX_EXAMPLES and "samples" not in whole
    assert len(whole["misses"]) <= MAX_EXAMPLES and whole["slowest"] is not None


def test_the_probe_before_any_index(tmp_path: Path, root: Path) -> None:
    result = CodeSearch(index_path=tmp_path / "none.db").analyze(root, FULL_PASS)
    assert result.summary == "no index yet" and result.data["queries"] == 0
    other = tmp_path / "other"
    other.mkdir()
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    assert CodeSearch(index_path=path).analyze(other, FULL_PASS).data["queries"] == 0


def test_indexer_and_probe_agree_on_the_default_location(tmp_path: Path, root: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    CodeIndexer(env=env).analyze(root, FULL_PASS)
    result = CodeSearch(env=env).analyze(root, FULL_PASS)
    assert result.data["queries"] == 4


def test_the_probe_survives_the_index_being_rebuilt_under_it(root: Path,
                                                              index_path: Path) -> None:
    probe = CodeSearch(index_path=index_path, queries=2)
    assert probe.analyze(root, FULL_PASS).data["queries"] == 2
    with IndexStore.open(index_path) as store:  # as a new version's indexer would
        store.conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    CodeIndexer(index_path=index_path).analyze(root, FULL_PASS)
    assert probe.analyze(root, FULL_PASS).data["queries"] == 2
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_path}{suffix}").unlink(missing_ok=True)
    assert probe.analyze(root, FULL_PASS).summary == "no index yet"
