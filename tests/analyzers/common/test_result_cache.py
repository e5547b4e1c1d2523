"""The analyzers' result cache on real SQLite files: round trips, checkpoints, keys, and the
ways a cache file goes bad (corrupt, another version, someone else's, locked)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
import structlog.testing

from analyzers.base import Finding
from analyzers.common.finding_data import finding_to_data, findings_from_data
from analyzers.common.locations import choose_cache_path, companion_path, default_index_path
from analyzers.common.result_cache import ResultCache

FINDING = Finding("f" * 32, "hardcoded-password", "a.py", 3, "high", "medium",
                  "Password in the source", "Pa…(13 chars)")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "log.results.db"


@pytest.fixture
def logged() -> Iterator[list[MutableMapping[str, Any]]]:
    """The structlog events of the test; structlog is left configured as it was (or not at all:
    ``RealWorldTester`` configures it only when nobody has)."""
    configured = structlog.is_configured()
    with structlog.testing.capture_logs() as events:
        yield events
    if not configured:
        structlog.reset_defaults()


def make(cache_file: Path, root: Path, analyzer: str = "security_scanner",
         variant: str = "v1", **options: float) -> ResultCache:
    return ResultCache(cache_file, os.fspath(root), analyzer, variant,
                       **options)  # type: ignore[arg-type]


def test_results_survive_a_new_instance(cache_file: Path, root: Path) -> None:
    cache = make(cache_file, root)
    assert cache.load() == {}
    cache.put("a.py", "d1", {"findings": [finding_to_data(FINDING)]})
    cache.put("b.py", "d2", {})
    cache.put("gone.py", "d3", {})
    cache.delete("gone.py")
    cache.close()
    loaded = make(cache_file, root).load()
    assert sorted(loaded) == ["a.py", "b.py"]
    digest, payload = loaded["a.py"].digest, loaded["a.py"].payload
    assert digest == "d1"
    assert findings_from_data(payload["findings"]) == (FINDING,)


def test_rows_are_checkpointed_without_an_explicit_commit(cache_file: Path, root: Path) -> None:
    cache = make(cache_file, root, commit_every=3, commit_seconds=3600)
    for name in ("a", "b", "c", "d"):
        cache.put(f"{name}.py", name, {})
    # Another process (a plain connection) sees the first checkpoint: three rows, not four.
    with sqlite3.connect(cache_file) as conn:
        assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 3
    cache.commit()
    assert len(make(cache_file, root).load()) == 4


def test_keyed_by_workspace_and_analyzer_and_a_new_variant_discards(
        cache_file: Path, root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for workspace, analyzer in ((root, "security_scanner"), (root, "pattern_probe"),
                                (other, "security_scanner")):
        cache = make(cache_file, workspace, analyzer)
        cache.load()
        cache.put(f"{analyzer}.py", "d", {})
        cache.close()
    assert list(make(cache_file, root).load()) == ["security_scanner.py"]
    assert list(make(cache_file, root, "pattern_probe").load()) == ["pattern_probe.py"]
    assert make(cache_file, root, variant="v2").load() == {}  # another salt: dropped
    assert make(cache_file, root, variant="v1").load() == {}  # and gone for good
    assert list(make(cache_file, other).load()) == ["security_scanner.py"]


def test_a_corrupt_file_is_rebuilt_with_a_warning(cache_file: Path, root: Path,
                                                  logged: list[MutableMapping[str, Any]]) -> None:
    cache = make(cache_file, root)
    for index in range(300):
        cache.put(f"f{index}.py", "d" * 64, {"findings": [finding_to_data(FINDING)]})
    cache.close()
    with sqlite3.connect(cache_file) as conn:  # fold the WAL in, so the file holds it all
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = cache_file.stat().st_size
    with open(cache_file, "r+b") as stream:  # a torn write: pages after the header are junk
        stream.seek(4096)
        stream.write(os.urandom(size - 4096))
    fresh = make(cache_file, root)
    assert fresh.load() == {}
    assert {"cache_rebuilt", "result_cache_unavailable"} & {
        e["event"] for e in logged if e["log_level"] == "warning"}
    fresh.put("a.py", "d", {})
    fresh.close()
    assert list(make(cache_file, root).load()) == ["a.py"]


def test_another_versions_file_is_rebuilt(cache_file: Path, root: Path) -> None:
    cache = make(cache_file, root)
    cache.put("a.py", "d", {})
    cache.close()
    with sqlite3.connect(cache_file) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    cache = make(cache_file, root)
    assert cache.load() == {}
    cache.put("b.py", "d", {})
    cache.close()
    assert list(make(cache_file, root).load()) == ["b.py"]


def test_someone_elses_file_is_never_touched(cache_file: Path, root: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text("my notes, not a database\n")
    cache = make(cache_file, root)
    assert cache.load() == {} and not cache.available
    cache.put("a.py", "d", {})
    cache.close()
    assert cache_file.read_text() == "my notes, not a database\n"
    other = cache_file.with_name("app.db")
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE precious (x)")
    assert make(other, root).load() == {}
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("precious",)]


def test_a_locked_file_is_done_without_not_raised(cache_file: Path, root: Path) -> None:
    first = make(cache_file, root)
    first.load()
    first.close()
    holder = sqlite3.connect(cache_file, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        cache = make(cache_file, root)
        assert cache.load() == {}  # after the busy timeout, without raising
        cache.put("a.py", "d", {})
        cache.commit()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_odd_paths_round_trip(cache_file: Path, root: Path) -> None:
    odd = os.fsdecode(b"caf\xe9/new\nline.py")  # not UTF-8: stored as the raw bytes
    cache = make(cache_file, root)
    cache.put(odd, "d", {"note": odd})
    cache.close()
    loaded = make(cache_file, root).load()
    assert list(loaded) == [odd] and loaded[odd].payload == {"note": odd}


def test_the_file_sits_beside_the_code_index_and_never_in_the_workspace(
        tmp_path: Path, root: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    log = tmp_path / "state" / "realworld_testing.db"
    assert choose_cache_path(root, "results", log_path=log, env=env) == (
        tmp_path / "state" / "realworld_testing.results.db")
    inside = choose_cache_path(root, "results", log_path=root / "log.db", env=env)
    assert inside == companion_path(default_index_path(root, env), "results")
    assert inside.name.startswith("results-") and inside.parent == tmp_path / "cache" / "realworld"
    explicit = tmp_path / "mine.db"
    assert choose_cache_path(root, "results", explicit=explicit, env=env) == explicit
    cache = ResultCache.for_workspace(root, "security_scanner", log_path=root / "log.db",
                                      env=env)
    cache.put("a.py", "d", {})
    cache.close()
    assert sorted(p.name for p in root.iterdir()) == []
    assert cache.path.is_file()
