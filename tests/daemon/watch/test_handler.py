"""The handler's side: watchdog events converted, enqueued, and never raised."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from watchdog.events import FileCreatedEvent, FileModifiedEvent, FileMovedEvent

from daemon.watch.coalesce import RawEvent
from daemon.watch.handler import EventHandler, OverflowListener, convert, relative_to
from daemon.watch.ignore import IgnoreRules


def write(root: Path, rel: str, data: bytes | str = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_convert_watchdog_events(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.swp\n")
    rules = IgnoreRules.load(tmp_path)
    root = rules.root

    def conv(kind: str, src: str, dest: str = "", is_dir: bool = False) -> list[tuple[object, ...]]:
        out = convert(kind, os.path.join(root, src) if src else "",
                      os.path.join(root, dest) if dest else "", is_dir,
                      root=root, rules=rules, timestamp=1.0)
        return [(e.kind, e.path, e.dest_path, e.is_dir) for e in out]

    assert conv("moved", "f.swp", "f.txt") == [("created", "f.txt", None, False)]
    assert conv("moved", "f.txt", "f.swp") == [("deleted", "f.txt", None, False)]
    assert conv("moved", "a.swp", "b.swp") == []
    assert conv("moved", "a", "b") == [("moved", "a", "b", False)]
    assert conv("opened", "f.txt") == []
    assert conv("closed_no_write", "f.txt") == []
    assert conv("modified", "d", is_dir=True) == []
    assert conv("closed", "f.txt") == [("modified", "f.txt", None, False)]
    assert conv("attrib", "f.txt") == [("modified", "f.txt", None, False)]
    assert conv("deleted", "d", is_dir=True) == [("deleted", "d", None, True)]
    assert conv("created", ".git/info/exclude") == [("created", ".git/info/exclude", None, False)]
    assert conv("created", ".git/index") == []
    assert convert("created", b"/elsewhere/x", "", False, root=root, rules=rules,
                   timestamp=1.0) == []
    raw = os.fsencode(root) + b"/caf\xe9"
    [event] = convert("created", raw, "", False, root=root, rules=rules, timestamp=1.0)
    assert event.path == os.fsdecode(b"caf\xe9")
    assert relative_to(root, root) == ""
    assert relative_to(root, root + "x/y") is None


def test_the_handler_enqueues_what_it_converts(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.swp\n")
    rules = IgnoreRules.load(tmp_path)
    root = rules.root
    queued: list[tuple[RawEvent, ...]] = []

    def enqueue(events: Sequence[RawEvent]) -> None:
        queued.append(tuple(events))

    handler = EventHandler(root, lambda: rules, lambda: 7.0, enqueue)
    handler.dispatch(FileCreatedEvent(os.path.join(root, "a.py")))
    handler.dispatch(FileModifiedEvent(os.path.join(root, "a.swp")))  # ignored: nothing queued
    handler.dispatch(FileMovedEvent(os.path.join(root, "a.py"), os.path.join(root, "b.py")))
    assert queued == [
        (RawEvent("a.py", "created", 7.0),),
        (RawEvent("a.py", "moved", 7.0, "b.py"),),
    ]
    assert handler.errors == 0 and handler.last_error is None


def test_the_handler_counts_what_fails_instead_of_raising(tmp_path: Path) -> None:
    rules = IgnoreRules.load(tmp_path)

    def full(events: Sequence[RawEvent]) -> None:
        raise MemoryError("queue full")

    handler = EventHandler(rules.root, lambda: rules, lambda: 1.0, full)
    handler.dispatch(FileCreatedEvent(os.path.join(rules.root, "a.py")))
    handler.dispatch(FileCreatedEvent(os.path.join(rules.root, "b.py")))
    assert handler.errors == 2
    assert handler.last_error == "MemoryError: queue full"


def test_the_overflow_listener_sees_only_its_warning_and_passes_every_record() -> None:
    seen: list[bool] = []
    listener = OverflowListener(lambda: seen.append(True))

    def record(message: object) -> logging.LogRecord:
        return logging.LogRecord("watchdog.observers.inotify_c", logging.WARNING, __file__, 1,
                                 message, None, None)

    assert listener.filter(record("Inotify queue overflowed; events were lost"))
    assert listener.filter(record("something else"))
    assert listener.filter(record(object()))
    assert seen == [True]

    def broken() -> None:
        raise RuntimeError("listener broken")

    assert OverflowListener(broken).filter(record("Inotify queue overflowed"))
