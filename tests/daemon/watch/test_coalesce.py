"""The coalescer with explicit timestamps: no threads, no sleeping."""

from __future__ import annotations

import itertools

import pytest

from daemon.watch.coalesce import Coalescer, Overflow, RawEvent, Settled


def kinds(settled: tuple[Settled, ...]) -> dict[str, tuple[str, str | None]]:
    return {s.path: (s.kind, s.moved_from) for s in settled}


def test_many_events_on_one_path_settle_once_after_the_window() -> None:
    c = Coalescer(settle=0.1)
    for i in range(5):
        c.add("f.py", "modified", 1.0 + i * 0.05)
    assert c.ready(1.25).settled == ()  # last event at 1.2: still settling
    assert c.pending == 1
    batch = c.ready(1.3)
    [item] = batch.settled
    assert (item.path, item.kind, item.events) == ("f.py", "modified", 5)
    assert (item.first_seen, item.last_seen) == (1.0, 1.2)
    assert c.pending == 0 and c.ready(5.0).settled == ()


def test_editor_atomic_save_is_one_modification_of_the_target() -> None:
    c = Coalescer(settle=0.1)
    c.feed(RawEvent(".f.py.swp", "created", 1.00))
    c.feed(RawEvent(".f.py.swp", "modified", 1.01))
    c.feed(RawEvent(".f.py.swp", "moved", 1.02, dest_path="f.py"))
    result = kinds(c.ready(1.2).settled)
    assert result == {"f.py": ("modified", None), ".f.py.swp": ("transient", None)}


def test_rename_chains_remember_the_origin() -> None:
    c = Coalescer()
    c.add("a", "moved", 1.0, dest_path="b")
    c.add("b", "moved", 1.01, dest_path="c")
    assert kinds(c.ready(2.0).settled) == {
        "a": ("deleted", None), "b": ("deleted", None), "c": ("modified", "a"),
    }


def test_moving_back_and_forth_and_onto_itself() -> None:
    c = Coalescer()
    c.add("a", "moved", 1.0, dest_path="b")
    c.add("b", "moved", 1.01, dest_path="a")
    c.add("x", "moved", 1.02, dest_path="x")  # no-op
    assert kinds(c.ready(2.0).settled) == {"a": ("modified", None), "b": ("deleted", None)}


def test_create_delete_and_delete_create() -> None:
    c = Coalescer()
    c.add("tmp", "created", 1.0)
    c.add("tmp", "deleted", 1.01)
    c.add("kept", "deleted", 1.0)
    c.add("kept", "created", 1.01)
    c.add("new", "created", 1.0)
    c.add("new", "modified", 1.01)
    c.add("gone", "modified", 1.0)
    c.add("gone", "deleted", 1.01)
    assert kinds(c.ready(2.0).settled) == {
        "tmp": ("transient", None), "kept": ("modified", None),
        "new": ("created", None), "gone": ("deleted", None),
    }


def test_a_recreated_path_forgets_where_it_was_moved_from() -> None:
    c = Coalescer()
    c.add("a", "moved", 1.0, dest_path="b")
    c.add("b", "deleted", 1.01)
    c.add("b", "created", 1.02)
    assert kinds(c.ready(2.0).settled)["b"] == ("modified", None)


def test_directories_stay_directories() -> None:
    c = Coalescer()
    c.add("d", "created", 1.0, is_dir=True)
    c.add("d", "modified", 1.01)
    [item] = c.ready(2.0).settled
    assert item.is_dir


def test_a_path_that_never_goes_quiet_is_reported_after_max_delay() -> None:
    c = Coalescer(settle=0.1, max_delay=1.0)
    t = 0.0
    reported: list[Settled] = []
    while t < 1.5:
        c.add("app.log", "modified", t)
        reported.extend(c.ready(t).settled)
        t += 0.05
    assert len(reported) == 1 and reported[0].path == "app.log"
    assert reported[0].last_seen - reported[0].first_seen < 1.0 + 1e-9


def test_ready_returns_settled_paths_in_event_order_and_next_deadline() -> None:
    c = Coalescer(settle=0.1, max_delay=2.0)
    assert c.next_deadline() is None
    c.add("b", "modified", 1.0)
    c.add("a", "modified", 1.05)
    assert c.next_deadline() == pytest.approx(1.1)
    assert [s.path for s in c.ready(1.2).settled] == ["b", "a"]


def test_overflow_drops_everything_and_asks_for_a_rescan_once_quiet() -> None:
    c = Coalescer(settle=0.1, max_pending=3, max_delay=1.0)
    for i in range(3):
        c.add(f"f{i}", "created", 1.0)
    assert not c.overflowed
    c.add("f3", "created", 1.01)  # a fourth path: too many
    assert c.overflowed and c.pending == 0
    for i in range(4, 50):
        c.add(f"f{i}", "created", 1.02)  # counted, not kept
    assert c.ready(1.05).overflow is None  # the storm is still going
    batch = c.ready(1.2)
    assert batch.overflow == Overflow(dropped_paths=3, dropped_events=50, since=1.01, until=1.02)
    assert batch.settled == ()
    assert not c.overflowed
    c.add("after", "modified", 2.0)  # back to normal
    assert [s.path for s in c.ready(2.2).settled] == ["after"]


def test_back_to_back_overflows_back_off() -> None:
    c = Coalescer(settle=0.1, max_pending=1, max_delay=1.0, max_overflow_wait=3.0)
    reports: list[float] = []
    t = 0.0
    while t < 12.0:  # an endless storm of new paths
        c.add(f"p{t:.2f}", "created", t)
        c.add(f"q{t:.2f}", "created", t)
        if c.ready(t).overflow is not None:
            reports.append(round(t, 2))
        t += 0.05
    gaps = [b - a for a, b in itertools.pairwise(reports)]
    assert reports[0] == pytest.approx(1.0, abs=0.06)  # waited max_delay, not forever
    assert gaps[0] > 1.5  # then max_delay * 2 ...
    assert all(g <= 3.0 + 0.2 for g in gaps)  # ... capped at max_overflow_wait


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        Coalescer(settle=1.0, max_delay=0.5)
    with pytest.raises(ValueError):
        Coalescer(max_pending=0)
    with pytest.raises(ValueError):
        Coalescer().add("a", "moved", 1.0)
