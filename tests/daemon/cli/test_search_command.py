"""``realworld search`` through its registered subcommand, in a tiny argparse harness."""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path
from typing import NoReturn

import pytest

from analyzers.base import FULL_PASS
from analyzers.code_index.indexer import CodeIndexer
from analyzers.code_index.store import IndexStore
from daemon.cli.search import SearchUsageError, register


class HarnessError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    # As daemon.cli.main's parser: usage errors are exceptions, not SystemExit.
    def error(self, message: str) -> NoReturn:
        raise HarnessError(message)


def run(*argv: str) -> tuple[int, str]:
    common = _Parser(add_help=False)
    common.add_argument("--db")
    common.add_argument("--config")
    parser = _Parser(prog="realworld")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands, common)
    args = parser.parse_args(["search", *argv])
    out = io.StringIO()
    code = args.run(args, out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config, log or cache leaks in; the default log is ./realworld_testing.db."""
    for name in ("REALWORLD_TESTING_DB", "REALWORLD_INDEX_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def write(root: Path, relative: str, content: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    write(workspace, "app/models.py", "class Widget:\n    def render(self):\n        pass\n")
    write(workspace, "app/views.py", "from app.models import Widget\nw = Widget()\n")
    write(workspace, "notes.md", "Widgets everywhere\n")
    return workspace


@pytest.fixture
def index(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "state" / "log.index.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    return path


def test_hits_print_as_path_line_col_text(root: Path, index: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    code, out = run("Widget", "--index", str(index))
    assert code == 0
    assert out.splitlines() == [
        "app/models.py:1:7: class Widget:",
        "app/views.py:1:24: from app.models import Widget",
        "app/views.py:2:5: w = Widget()",
        "notes.md:1:1: Widgets everywhere",
    ]


def test_paths_outside_the_current_directory_are_absolute(root: Path, index: Path,
                                                          tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    _, out = run("render", "--index", str(index), "--limit", "1")
    assert out == f"{root}/app/models.py:2:9:     def render(self):\n"


def test_json_output(root: Path, index: Path) -> None:
    os.chdir(root / "app")
    code, out = run("Widget", "--index", str(index), "--json", "--limit", "2")
    assert code == 0
    hits = json.loads(out)
    assert hits == [
        {"path": "app/models.py", "workspace": str(root), "file": "models.py", "line": 1,
         "col": 7, "text": "class Widget:", "kind": "class", "score": 4.0},
        {"path": "app/views.py", "workspace": str(root), "file": "views.py", "line": 1,
         "col": 24, "text": "from app.models import Widget", "kind": "identifier",
         "score": 3.0},
    ]
    assert run("no-such-thing", "--index", str(index), "--json") == (0, "[]\n")
    assert run("no-such-thing", "--index", str(index)) == (0, "")


def test_options_reach_the_search(root: Path, index: Path) -> None:
    os.chdir(root)
    assert run("widget", "--index", str(index), "--path", "*.md")[1] == (
        "notes.md:1:1: Widgets everywhere\n")
    assert run("rend", "--index", str(index), "--symbol")[1] == (
        "app/models.py:2:9:     def render(self):\n")
    assert run(r"W\w+\(\)", "--index", str(index), "--regex")[1] == (
        "app/views.py:2:5: w = Widget()\n")
    assert len(run("Widget", "--index", str(index), "--limit", "2")[1].splitlines()) == 2


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_a_bad_limit_is_a_usage_error(index: Path, limit: str) -> None:
    with pytest.raises(HarnessError, match="limit"):
        run("x", "--index", str(index), "--limit", limit)


def test_a_bad_regex_is_one_line(index: Path) -> None:
    with pytest.raises(SearchUsageError) as caught:
        run("(unclosed", "--regex", "--index", str(index))
    assert str(caught.value).startswith("bad regex: missing )")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_missing_index_says_to_run_a_session(tmp_path: Path) -> None:
    with pytest.raises(SearchUsageError, match="no code index at"):
        run("x", "--index", str(tmp_path / "nope.db"))
    with pytest.raises(SearchUsageError) as caught:
        run("x")
    message = str(caught.value)
    assert "no code index found" in message and "realworld run --project P --once" in message
    assert str(tmp_path / "realworld_testing.index.db") in message
    assert "\n" not in message


def test_an_index_from_another_version_says_to_rebuild(index: Path) -> None:
    with IndexStore.open(index) as store:
        store.conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SearchUsageError, match=r"another version.*run a session"):
        run("x", "--index", str(index))


def test_the_index_beside_the_log_is_found_from_db(root: Path, index: Path,
                                                   tmp_path: Path) -> None:
    code, out = run("render", "--db", str(tmp_path / "state" / "log.db"))
    assert code == 0 and "def render" in out


def test_the_index_env_variable(root: Path, index: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALWORLD_INDEX_DB", str(index))
    assert "def render" in run("render")[1]


def test_the_workspace_cache_is_found_from_inside_the_workspace(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    CodeIndexer(env=env).analyze(root, FULL_PASS)  # what a session with no log path does
    monkeypatch.chdir(root / "app")
    code, out = run("render")
    assert code == 0 and out == "models.py:2:9:     def render(self):\n"


def test_odd_names_and_terminal_escapes_stay_on_one_line(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    write(root, "two\nlines.txt", "find_me here\n")
    write(root, "colors.txt", "find_me \x1b[31mred\x1b[0m\n")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as stream:
        stream.write(b"find_me too\n")
    path = tmp_path / "odd.db"
    CodeIndexer(index_path=path).analyze(root, FULL_PASS)
    os.chdir(root)
    _, out = run("find_me", "--index", str(path))
    assert sorted(out.splitlines()) == [
        "caf\\xe9.txt:1:1: find_me too",
        "colors.txt:1:1: find_me \\x1b[31mred\\x1b[0m",
        "two\\nlines.txt:1:1: find_me here",
    ]
    _, as_json = run("find_me", "--index", str(path), "--json")
    assert {h["path"] for h in json.loads(as_json)} == {"caf\\xe9.txt", "colors.txt",
                                                         "two\nlines.txt"}
