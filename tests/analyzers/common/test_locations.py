"""Where the code index and the caches beside it live: the chain of candidates, never inside
the workspace."""

from __future__ import annotations

from pathlib import Path

from analyzers.common.locations import (
    INDEX_ENV,
    cache_dir,
    choose_cache_path,
    choose_index_path,
    companion_path,
    default_index_path,
    index_path_for_log,
    workspace_key,
)


def test_the_index_sits_beside_the_log() -> None:
    assert index_path_for_log("/var/lib/rw/realworld_testing.db") == Path(
        "/var/lib/rw/realworld_testing.index.db")
    assert index_path_for_log("/x/log") == Path("/x/log.index.db")


def test_the_default_is_per_workspace_under_the_xdg_cache(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path / "home")}
    path = default_index_path(tmp_path / "ws", env)
    assert path == tmp_path / "cache" / "realworld" / f"index-{workspace_key(tmp_path / 'ws')}.db"
    assert workspace_key(tmp_path / "ws") != workspace_key(tmp_path / "other")
    # A relative XDG_CACHE_HOME is invalid by the spec: ~/.cache instead.
    assert cache_dir({"XDG_CACHE_HOME": "rel", "HOME": str(tmp_path / "home")}) == (
        tmp_path / "home" / ".cache" / "realworld")


def test_the_chain_skips_places_inside_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    explicit = tmp_path / "mine.db"
    assert choose_index_path(root, explicit=explicit, log_path=root / "log.db",
                             env=env) == explicit
    assert choose_index_path(root, log_path=tmp_path / "log.db", env=env) == (
        tmp_path / "log.index.db")
    assert choose_index_path(root, env={**env, INDEX_ENV: str(tmp_path / "env.db")},
                             log_path=tmp_path / "log.db") == tmp_path / "env.db"
    # The log (and so the index beside it) inside the workspace: the cache instead.
    assert choose_index_path(root, explicit=root / "i.db", log_path=root / "log.db",
                             env=env) == default_index_path(root, env)
    # Even the cache inside the workspace (a workspace that is $HOME): a private temp dir.
    inside = {"XDG_CACHE_HOME": str(root / ".cache"), "HOME": str(root)}
    chosen = choose_index_path(root, env=inside)
    assert not str(chosen).startswith(str(root)) and chosen.name.startswith("index-")


def test_a_cache_sits_beside_the_index_under_its_own_name(tmp_path: Path) -> None:
    assert companion_path("/var/lib/rw/log.index.db", "results") == Path(
        "/var/lib/rw/log.results.db")
    assert companion_path("/c/index-0123abcd.db", "results") == Path("/c/results-0123abcd.db")
    assert companion_path("/c/mine.db", "results") == Path("/c/mine.results.db")
    root = tmp_path / "ws"
    root.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    assert choose_cache_path(root, "results", log_path=tmp_path / "log.db", env=env) == (
        tmp_path / "log.results.db")
    assert choose_cache_path(root, "results", log_path=root / "log.db", env=env) == (
        companion_path(default_index_path(root, env), "results"))
