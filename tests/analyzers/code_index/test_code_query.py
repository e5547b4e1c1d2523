"""Search over a real index: ranking tiers, and agreement with a brute-force grep."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS
from analyzers.code_index.indexer import CodeIndexer
from analyzers.code_index.pysymbols import split_lines
from analyzers.code_index.query import (
    DEFINITION,
    PART,
    PART_OTHER_CASE,
    WORD,
    WORD_OTHER_CASE,
    BadQuery,
    Hit,
    glob_matches,
    search,
)
from analyzers.code_index.store import MAX_LINE_CHARS, IndexStore

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


@pytest.fixture
def index(index_path: Path) -> Iterator[IndexStore]:
    with IndexStore.open(index_path, readonly=True) as store:
        yield store


def where(hits: list[Hit]) -> list[tuple[str, int, str, float]]:
    return [(h.path, h.line, h.kind, round(h.score)) if h.is_definition else
            (h.path, h.line, h.kind, h.score) for h in hits]


def brute_force(root: Path, pattern: re.Pattern[str]) -> set[tuple[str, int]]:
    """Every non-blank line ``pattern`` matches (blank lines are not indexed: only a regex
    that matches the empty string could find them, and a blank line is no result)."""
    found = set()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            for number, line in enumerate(split_lines(path.read_text("utf-8")), 1):
                if line.strip() and pattern.search(line[:MAX_LINE_CHARS]):
                    found.add((relative, number))
    return found


def test_definitions_then_whole_identifiers_then_substrings(index: IndexStore) -> None:
    hits = search(index, "Widget", limit=100)
    assert where(hits) == [
        ("app/models.py", 1, "class", 4),
        ("app/views.py", 1, "identifier", WORD),
        ("app/views.py", 3, "identifier", WORD),
        ("app/views.py", 4, "identifier", WORD),
        ("app/models.py", 5, "identifier", WORD_OTHER_CASE),
        ("app/models.py", 6, "identifier", WORD_OTHER_CASE),
        ("docs/notes.md", 2, "identifier", WORD_OTHER_CASE),
        ("docs/notes.md", 1, "substring", PART),
        ("app/models.py", 3, "substring", PART_OTHER_CASE),
    ]
    first = hits[0]
    assert (first.col, first.text, first.score) == (7, "class Widget:", DEFINITION)
    assert first.workspace.endswith("/ws")
    assert [h.col for h in hits[1:4]] == [24, 18, 9]


def test_qualified_names_and_case(index: IndexStore) -> None:
    method = search(index, "Widget.render", limit=1)
    assert [(h.path, h.line, h.kind, h.col) for h in method] == [("app/models.py", 2, "method",
                                                                   9)]
    lower = search(index, "widget", limit=3)
    assert [(h.path, h.line, h.kind) for h in lower] == [
        ("app/models.py", 1, "class"),  # the definition, in another case, still leads
        ("app/models.py", 5, "identifier"), ("app/models.py", 6, "identifier")]
    assert lower[0].score < DEFINITION


@pytest.mark.parametrize("text", ["render", "idge", "Widget", "\"quote\"", "50%", "cut_off",
                                  "_off", "ünï", "w.", "re", "%", "_", "Ë", "return w"])
def test_plain_text_finds_exactly_what_a_grep_finds(index: IndexStore, root: Path,
                                                    text: str) -> None:
    hits = search(index, text, limit=10_000)
    assert len(hits) == len({(h.path, h.line) for h in hits})  # no line twice
    assert {(h.path, h.line) for h in hits} == brute_force(
        root, re.compile(re.escape(text), re.IGNORECASE))


@pytest.mark.parametrize("pattern", [r"render\w*\(", r"(Widget|show)\b", r"^\s+return",
                                     r"w.?d", r"def (show|render)", r"[A-Z]{3,}", r"\d+%",
                                     r"(?i)widget", "x?"])
def test_regex_finds_exactly_what_a_grep_finds(index: IndexStore, root: Path,
                                               pattern: str) -> None:
    compiled = re.compile(pattern)
    hits = search(index, pattern, regex=True, limit=10_000)
    definitions = [h for h in hits if h.is_definition]
    lines = {(h.path, h.line) for h in hits if not h.is_definition}
    matching_definitions = {(h.path, h.line) for h in definitions if compiled.search(h.text)}
    assert lines | matching_definitions == brute_force(root, compiled)
    assert hits[:len(definitions)] == definitions  # definitions lead


def test_regex_definitions_are_symbols_whose_whole_name_matches(index: IndexStore) -> None:
    hits = search(index, r"render\w*", regex=True, limit=2)
    assert [(h.path, h.line, h.kind) for h in hits] == [("app/models.py", 5, "function"),
                                                        ("app/models.py", 2, "method")]


def test_bad_queries(index: IndexStore) -> None:
    with pytest.raises(BadQuery, match="bad regex"):
        search(index, "(unclosed", regex=True)
    with pytest.raises(BadQuery, match="empty"):
        search(index, "")
    with pytest.raises(BadQuery, match="limit"):
        search(index, "x", limit=0)
    assert isinstance(BadQuery("x"), ValueError)


def test_path_globs(index: IndexStore) -> None:
    assert {h.path for h in search(index, "widget", path_glob="*.md")} == {"docs/notes.md"}
    assert {h.path for h in search(index, "widget", path_glob="app/*")} == {
        "app/models.py", "app/views.py"}
    assert {h.path for h in search(index, "widget", path_glob="views.py")} == {"app/views.py"}
    assert search(index, "widget", path_glob="nothing/*") == []
    assert glob_matches("a/b/c.py", "*.py") and glob_matches("a/b/c.py", "a/*")
    assert not glob_matches("a/b/c.py", "b/*")


def test_symbol_search(index: IndexStore) -> None:
    hits = search(index, "rend", symbol=True)
    assert [(h.path, h.line, h.kind) for h in hits] == [("app/models.py", 5, "function"),
                                                        ("app/models.py", 2, "method")]
    assert [h.line for h in search(index, "idget", symbol=True)] == [1, 5]
    assert search(index, "render", symbol=True)[0].kind == "method"  # exact name beats prefix
    assert search(index, "nothing_like_it", symbol=True) == []
    regex = search(index, r"rend", symbol=True, regex=True)
    assert {h.line for h in regex} == {2, 5}


def test_short_queries_scan(index: IndexStore) -> None:
    hits = search(index, "w.")
    assert [(h.path, h.line, h.col) for h in hits] == [("app/views.py", 5, 12)]


def test_long_lines_are_searched_up_to_the_cap(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "min.js", "a" * 100 + "early_needle" + "b" * 5000 + "late_needle\n")
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    with IndexStore.open(path, readonly=True) as index:
        early = search(index, "early_needle")
        assert [(h.line, h.col, len(h.text)) for h in early] == [(1, 101, MAX_LINE_CHARS)]
        assert search(index, "late_needle") == []  # beyond the stored part of the line
        assert search(index, "b{4000}late", regex=True) == []


def test_columns_count_characters(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "u.py", "ñandú = 'é' + find_me\n")
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    with IndexStore.open(path, readonly=True) as index:
        assert [h.col for h in search(index, "find_me")] == [15]
        assert [(h.col, h.kind) for h in search(index, "ñandú")] == [(1, "variable")]


def test_the_best_tier_wins_even_when_worse_hits_come_first(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "a_first.txt", "needles\n" * 30)
    write(root, "b_second.txt", "".join(f"needle {i}\n" for i in range(30)))
    path = tmp_path / "i.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    with IndexStore.open(path, readonly=True) as index:
        hits = search(index, "needle", limit=5)
        assert [(h.path, h.line, h.kind) for h in hits] == [
            ("b_second.txt", n, "identifier") for n in range(1, 6)]
        assert len(search(index, "needle", limit=45)) == 45
        assert [h.kind for h in search(index, "needle", limit=45)][29:31] == [
            "identifier", "substring"]


def test_one_index_many_workspaces(tmp_path: Path, root: Path) -> None:
    other = tmp_path / "other"
    write(other, "w.py", "class Widget: pass\n")
    path = tmp_path / "shared.db"
    indexer = CodeIndexer(index_path=path)
    indexer.analyze(root, FULL_PASS)
    indexer.analyze(other, FULL_PASS)
    with IndexStore.open(path, readonly=True) as index:
        both = search(index, "Widget", symbol=True)
        assert {(h.workspace, h.path) for h in both} == {
            (str(root), "app/models.py"), (str(other), "w.py")}
        only = search(index, "Widget", workspace=str(other))
        assert {h.workspace for h in only} == {str(other)}
        assert search(index, "Widget", workspace=str(tmp_path / "unknown")) == []
