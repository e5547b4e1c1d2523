"""Starting and stopping the watchdog observer of a backend, and telling whether it runs.

watchdog's emitter threads put events on its queue and one dispatcher thread hands them
to our handler; this module only builds that machinery for the planned backend, falls
back to polling when it cannot start, and tears it down. The polling observer is
``PollingObserverVFS`` with ``lstat`` (links are not followed) and a ``scandir`` that
skips ignored entries (``tracked_entries``), so ``.git/`` and ``node_modules/`` cost
nothing to poll.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import structlog
from watchdog.events import FileSystemEventHandler
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from daemon.watch.backend import Backend, WatchPlan, fallback_plan
from daemon.watch.handler import EVENT_FILTER, relative_to
from daemon.watch.ignore import IgnoreRules

log = structlog.get_logger("realworld.watcher")

Listdir = Callable[[str | None], Iterator[os.DirEntry[str]]]


def launch(
    backend: Backend,
    handler: FileSystemEventHandler,
    root: str,
    *,
    polling_interval: float,
    listdir: Listdir,
) -> BaseObserver:
    """A started observer of ``backend`` delivering ``root``'s events to ``handler``."""
    observer: BaseObserver
    if backend == "polling":
        observer = PollingObserverVFS(os.lstat, listdir, polling_interval=polling_interval)
    elif backend == "inotify":
        # Imported here: the module exists only on Linux.
        from watchdog.observers.inotify import InotifyObserver

        observer = InotifyObserver()
    else:
        from watchdog.observers import Observer

        observer = Observer()
    try:
        observer.schedule(handler, root, recursive=True, event_filter=EVENT_FILTER)
        observer.start()
    except BaseException:
        stop_observer(observer)
        raise
    return observer


def start_observer(
    plan: WatchPlan, start: Callable[[Backend], BaseObserver]
) -> tuple[BaseObserver, WatchPlan]:
    """``plan``'s observer, or a polling one if it cannot start, and the plan that holds.

    ``start`` launches an observer of one backend (``launch`` with the rest bound).
    """
    try:
        return start(plan.backend), plan
    except Exception as exc:
        if plan.backend == "polling":
            raise
        fallback = fallback_plan(plan, exc)
        return start("polling"), fallback


def is_running(observer: BaseObserver) -> bool:
    """Whether the observer and every one of its emitter threads are alive."""
    return observer.is_alive() and bool(observer.emitters) and all(
        e.is_alive() for e in observer.emitters
    )


def stop_observer(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except Exception as exc:  # stopping is best effort
        log.debug("observer_stop_failed", error=str(exc))


def tracked_entries(root: str, rules: IgnoreRules, path: str | None) -> Iterator[os.DirEntry[str]]:
    """``scandir`` for the polling observer: no ignored entries, no errors."""
    directory = os.fspath(path) if path is not None else root
    rel = relative_to(root, directory)
    if rel is None:
        return
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if IgnoreRules.is_rules_file(child) or not rules.is_ignored(child, is_dir):
                    yield entry
    except OSError:
        return  # unreadable or vanished: treated as empty, the scanner reports it
