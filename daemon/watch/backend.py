"""Which watchdog observer watches the workspace, and why: inotify while its watch limit
allows, polling otherwise. The :class:`WatchPlan` is what the session logs at start.

- ``backend="auto"`` on Linux: inotify, unless the workspace has more directories than
  ``watch_share`` (default half) of ``/proc/sys/fs/inotify/max_user_watches`` — watchdog
  puts one watch on every directory, ignored ones too, and other programs (editors, IDEs)
  share the same per-user limit. Then, or when the inotify observer fails to start
  (``ENOSPC``: watch limit, ``EMFILE``: instance limit), it falls back to watchdog's
  polling observer.
- Elsewhere (macOS, Windows, BSD): watchdog's native observer, polling if it fails.
- ``backend="inotify"|"native"|"polling"`` forces one (``inotify`` still falls back
  if it cannot start).

``choose_backend`` and ``fallback_plan`` are pure; ``plan_backend`` reads the limit and
counts the directories first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Literal

Backend = Literal["inotify", "polling", "native"]
BackendRequest = Literal["auto", "inotify", "polling", "native"]

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
DEFAULT_WATCH_SHARE = 0.5


@dataclass(frozen=True)
class WatchPlan:
    """Which observer watches the workspace and why."""

    backend: Backend
    reason: str
    directories: int | None = None  # counted at start (inotify needs one watch each)
    watch_limit: int | None = None  # max_user_watches


def choose_backend(
    requested: BackendRequest,
    *,
    is_linux: bool,
    watch_limit: int | None,
    directories: int | None,
    watch_share: float = DEFAULT_WATCH_SHARE,
) -> WatchPlan:
    """Pick the observer before starting it; ``directories`` may be a lower bound."""
    if requested == "polling":
        return WatchPlan("polling", "polling requested", directories, watch_limit)
    if requested == "native" or (requested == "auto" and not is_linux):
        return WatchPlan("native", "native observer of this platform", directories, watch_limit)
    if watch_limit is not None and directories is not None:
        budget = int(watch_limit * watch_share)
        if directories > budget:
            return WatchPlan(
                "polling",
                f"watch_limit: {directories}+ directories need inotify watches, more than "
                f"{watch_share:.0%} of max_user_watches={watch_limit}",
                directories, watch_limit,
            )
    return WatchPlan("inotify", "inotify watches suffice", directories, watch_limit)


def fallback_plan(plan: WatchPlan, error: BaseException) -> WatchPlan:
    """The plan once ``plan``'s observer failed to start: polling, which needs no watches."""
    return WatchPlan(
        "polling", f"{plan.backend} failed to start ({error}); polling instead",
        plan.directories, plan.watch_limit,
    )


def read_watch_limit(path: str = MAX_USER_WATCHES) -> int | None:
    try:
        with open(path, encoding="ascii") as stream:
            return int(stream.read().strip())
    except (OSError, ValueError):
        return None


def count_directories(root: str, stop_after: int | None = None) -> int:
    """Directories below ``root`` (itself included, links not followed, ignored ones too).

    Stops counting once past ``stop_after``: only "more than the budget" matters.
    """
    count = 0
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        count += 1
        if stop_after is not None and count > stop_after:
            break
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return count


def plan_backend(
    root: str,
    requested: BackendRequest,
    *,
    watch_limit: int | None = None,
    watch_share: float = DEFAULT_WATCH_SHARE,
    is_linux: bool | None = None,
) -> WatchPlan:
    """The plan for watching ``root`` now: reads the watch limit (unless given) and counts
    directories only where inotify might be used."""
    linux = sys.platform.startswith("linux") if is_linux is None else is_linux
    limit = watch_limit if watch_limit is not None else (
        read_watch_limit() if linux else None
    )
    directories = None
    if linux and requested in ("auto", "inotify") and limit is not None:
        directories = count_directories(root, int(limit * watch_share) + 1)
    if requested == "inotify":
        # Forced: watch even beyond the budget, only report the numbers.
        return WatchPlan("inotify", "inotify requested", directories, limit)
    return choose_backend(requested, is_linux=linux, watch_limit=limit,
                          directories=directories, watch_share=watch_share)
