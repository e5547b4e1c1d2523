"""Starting, checking and stopping observers; what the polling observer lists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.observers.api import BaseObserver

from daemon.watch.backend import Backend, WatchPlan
from daemon.watch.handler import EventHandler
from daemon.watch.ignore import IgnoreRules
from daemon.watch.observer import (
    is_running,
    launch,
    start_observer,
    stop_observer,
    tracked_entries,
)


def write(root: Path, rel: str, data: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def names(entries: Iterator[os.DirEntry[str]]) -> list[str]:
    return sorted(e.name for e in entries)


def test_the_polling_listing_skips_ignored_entries_but_not_rules_files(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\nbuild/\n")
    write(tmp_path, "a.py")
    write(tmp_path, "debug.log")
    write(tmp_path, "build/out.o")
    write(tmp_path, "src/b.py")
    write(tmp_path, ".git/info/exclude", "*.tmp\n")
    write(tmp_path, ".git/index")
    rules = IgnoreRules.load(tmp_path)
    root = rules.root
    assert names(tracked_entries(root, rules, None)) == [".gitignore", "a.py", "src"]
    assert names(tracked_entries(root, rules, root)) == [".gitignore", "a.py", "src"]
    assert names(tracked_entries(root, rules, os.path.join(root, "src"))) == ["b.py"]
    # info/exclude is a rules file: polling must see it change even inside .git.
    assert names(tracked_entries(root, rules, os.path.join(root, ".git", "info"))) == ["exclude"]
    assert names(tracked_entries(root, rules, os.path.join(root, "gone"))) == []
    assert names(tracked_entries(root, rules, os.path.dirname(root))) == []  # outside


def test_a_backend_that_cannot_start_falls_back_to_polling(tmp_path: Path) -> None:
    rules = IgnoreRules.load(tmp_path)
    handler = EventHandler(rules.root, lambda: rules, lambda: 0.0, lambda events: None)
    asked: list[Backend] = []

    def start(backend: Backend) -> BaseObserver:
        asked.append(backend)
        if backend != "polling":
            raise OSError(28, "inotify watch limit reached")
        return launch(backend, handler, rules.root, polling_interval=0.05,
                      listdir=lambda path: tracked_entries(rules.root, rules, path))

    observer, plan = start_observer(WatchPlan("inotify", "inotify watches suffice", 3, 10), start)
    try:
        assert asked == ["inotify", "polling"]
        assert (plan.backend, plan.directories, plan.watch_limit) == ("polling", 3, 10)
        assert "inotify failed to start" in plan.reason
        assert is_running(observer)
    finally:
        stop_observer(observer)
    assert not is_running(observer)
    stop_observer(observer)  # a second stop is harmless

    def never(backend: Backend) -> BaseObserver:
        raise OSError(24, "too many open files")

    with pytest.raises(OSError):
        start_observer(WatchPlan("polling", "polling requested"), never)
