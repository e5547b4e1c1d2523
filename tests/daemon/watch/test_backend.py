"""Choosing the observer: the pure choice, the fallback, and the probes it rests on."""

from __future__ import annotations

from pathlib import Path

from daemon.watch.backend import (
    WatchPlan,
    choose_backend,
    count_directories,
    fallback_plan,
    plan_backend,
    read_watch_limit,
)


def test_choose_backend() -> None:
    assert choose_backend("auto", is_linux=True, watch_limit=1000, directories=100).backend \
        == "inotify"
    tight = choose_backend("auto", is_linux=True, watch_limit=1000, directories=501)
    assert tight == WatchPlan("polling", tight.reason, 501, 1000)
    assert "max_user_watches=1000" in tight.reason
    assert choose_backend("auto", is_linux=True, watch_limit=1000, directories=900,
                          watch_share=1.0).backend == "inotify"
    assert choose_backend("auto", is_linux=False, watch_limit=None, directories=None).backend \
        == "native"
    assert choose_backend("polling", is_linux=True, watch_limit=None, directories=None).backend \
        == "polling"
    assert choose_backend("auto", is_linux=True, watch_limit=None, directories=None).backend \
        == "inotify"


def test_count_directories_and_watch_limit(tmp_path: Path) -> None:
    for rel in ("a/b/c", "d", ".git/objects"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    assert count_directories(str(tmp_path)) == 7  # root, a, a/b, a/b/c, d, .git, objects
    assert count_directories(str(tmp_path), stop_after=2) == 3
    assert read_watch_limit(str(tmp_path / "nope")) is None
    limit = read_watch_limit()
    assert limit is None or limit > 0


def test_plan_backend_counts_directories_only_where_inotify_may_watch(tmp_path: Path) -> None:
    for rel in ("a", "b", "c/d"):
        (tmp_path / rel).mkdir(parents=True)
    root = str(tmp_path)
    # A budget of 2 watches for 5 directories: counting stops at 4, well past it.
    tight = plan_backend(root, "auto", watch_limit=4, watch_share=0.5, is_linux=True)
    assert (tight.backend, tight.directories, tight.watch_limit) == ("polling", 4, 4)
    assert tight.reason.startswith("watch_limit")
    roomy = plan_backend(root, "auto", watch_limit=1000, is_linux=True)
    assert roomy == WatchPlan("inotify", "inotify watches suffice", 5, 1000)
    forced = plan_backend(root, "inotify", watch_limit=4, watch_share=0.5, is_linux=True)
    assert forced == WatchPlan("inotify", "inotify requested", 4, 4)
    assert plan_backend(root, "polling", watch_limit=4, is_linux=True).directories is None
    elsewhere = plan_backend(root, "auto", is_linux=False)
    assert elsewhere == WatchPlan("native", "native observer of this platform", None, None)


def test_fallback_plan_keeps_the_numbers_and_says_why() -> None:
    plan = WatchPlan("inotify", "inotify watches suffice", 12, 8192)
    fallback = fallback_plan(plan, OSError(28, "No space left on device"))
    assert (fallback.backend, fallback.directories, fallback.watch_limit) == ("polling", 12, 8192)
    assert fallback.reason.startswith("inotify failed to start (")
    assert fallback.reason.endswith("); polling instead")
