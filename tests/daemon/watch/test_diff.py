"""diff and its inverse on plain states: no disk, no threads."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.watch.diff import apply_changes, diff, keep_unreadable, restrict
from daemon.watch.snapshot import Change, FileState, ScanError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state(path: str, content: bytes, mtime: float = 1.0) -> FileState:
    return FileState(path, len(content), mtime, sha(content))


def test_diff_pairs_moves_by_hint_then_by_content_but_not_empty_files() -> None:
    old = {
        "a": state("a", b"A"), "b": state("b", b"B"), "e1": state("e1", b""),
        "t": state("t", b"T"),
    }
    new = {
        "a2": state("a2", b"A"), "b2": state("b2", b"B edited"), "e2": state("e2", b""),
        "t": state("t", b"T", mtime=2.0),
    }
    plain = diff(old, new)
    assert [(c.kind, c.path, c.dest_path) for c in plain] == [
        ("deleted", "b", None), ("deleted", "e1", None),
        ("moved", "a", "a2"), ("created", "b2", None), ("created", "e2", None),
    ]
    hinted = diff(old, new, move_hints={"b2": "b"}, report_touched=True)
    assert [(c.kind, c.path, c.dest_path) for c in hinted] == [
        ("touched", "t", None), ("deleted", "e1", None),
        ("moved", "a", "a2"), ("moved", "b", "b2"), ("created", "e2", None),
    ]
    assert apply_changes(old, hinted) == new
    assert Change("moved", "a", new["a2"], "a2").current_path == "a2"
    with pytest.raises(ValueError):
        apply_changes(old, [Change("created", "x")])


def test_restrict_keeps_a_subtree() -> None:
    known = {p: state(p, b"x") for p in ("a", "ab/c", "a/b", "a/b/c", "z")}
    assert sorted(restrict(known, ["a"])) == ["a", "a/b", "a/b/c"]
    assert sorted(restrict(known, ["a/b", "z"])) == ["a/b", "a/b/c", "z"]
    assert restrict(known, [""]) == known


paths = st.sampled_from(["a", "b", "c", "d/e", "d/f", "g/h/i", "n\nl", "\udce9"])
contents = st.sampled_from([b"", b"1", b"2", b"22", b"333"])
mtimes = st.sampled_from([1.0, 2.0])
states = st.dictionaries(paths, st.tuples(contents, mtimes), max_size=8).map(
    lambda d: {p: state(p, c, m) for p, (c, m) in d.items()}
)


@settings(max_examples=200, deadline=None)
@given(old=states, new=states)
def test_applying_the_diff_to_old_gives_new(
    old: dict[str, FileState], new: dict[str, FileState]
) -> None:
    changes = diff(old, new, report_touched=True)
    assert apply_changes(old, changes) == new
    # Each path changes at most once, and moves only pair equal content.
    touched = [c.path for c in changes] + [c.dest_path for c in changes if c.dest_path]
    assert len(touched) == len(set(touched))
    for change in changes:
        if change.kind == "moved":
            assert change.state is not None
            assert old[change.path].content_hash == change.state.content_hash
    # Without touched changes, the result differs from new only in mtimes.
    quiet = apply_changes(old, diff(old, new))
    assert {p: (s.size, s.content_hash) for p, s in quiet.items()} == {
        p: (s.size, s.content_hash) for p, s in new.items()
    }


def test_unreadable_paths_keep_their_known_state_instead_of_being_deleted() -> None:
    known = {p: state(p, b"x") for p in ("locked.txt", "dir/a", "dir/b", "gone", "pipe")}
    new = {"locked.txt": state("locked.txt", b"y")}
    errors = [
        ScanError("dir", "unreadable", "Permission denied"),
        ScanError("gone", "vanished", "No such file"),
        ScanError("pipe", "not_regular", "a named pipe"),
        ScanError("locked.txt", "io_error", "EIO"),
    ]
    kept = keep_unreadable(new, known, errors)
    assert sorted(kept) == ["dir/a", "dir/b", "locked.txt"]
    assert kept["locked.txt"] == new["locked.txt"]  # what was read wins
    assert [c.kind for c in diff(known, kept)] == ["modified", "deleted", "deleted"]
