"""What a batch of settled events calls for reading again: plain data, no disk."""

from __future__ import annotations

from daemon.watch.coalesce import Settled, SettledKind
from daemon.watch.reread import plan_reread
from daemon.watch.snapshot import FileState


def settled(path: str, kind: SettledKind = "modified", *, is_dir: bool = False,
            moved_from: str | None = None) -> Settled:
    return Settled(path, kind, is_dir, moved_from, 1.0, 1.0, 1)


def known(*paths: str) -> dict[str, FileState]:
    return {p: FileState(p, 1, 1.0, f"hash of {p}") for p in paths}


def test_directories_are_scanned_whole_and_files_below_them_are_not_read_twice() -> None:
    state = known("a/keep", "a/b/c.txt", "d/e", "x.txt", "z")
    reread = plan_reread([
        settled("a", "created", is_dir=True),
        settled("a/b", "created", is_dir=True),
        settled("a/b/c.txt"),
        settled("d", "deleted", is_dir=True),
        settled("x.txt"),
        settled("dx/y", "created"),
    ], state)
    assert reread.directories == ("a", "d")
    assert reread.files == ("dx/y", "x.txt")  # "dx/y" is not below "d"
    assert reread.old == {p: state[p] for p in ("a/keep", "a/b/c.txt", "d/e", "x.txt")}
    # Files with events of their own are hashed again even inside a scanned directory.
    assert dict(reread.previous) == {p: state[p] for p in ("a/keep", "d/e", "z")}
    assert "a/b/c.txt" not in reread.previous and len(reread.previous) == 3
    assert reread.move_hints == {} and not reread.rules_changed


def test_the_root_covers_everything() -> None:
    state = known("a", "b/c")
    reread = plan_reread([settled("", "deleted", is_dir=True), settled("b/c")], state)
    assert (reread.directories, reread.files) == (("",), ())
    assert reread.old == state


def test_renames_give_move_hints() -> None:
    reread = plan_reread([settled("new.py", moved_from="old.py"), settled("old.py", "deleted")],
                         known("old.py"))
    assert reread.move_hints == {"new.py": "old.py"}
    assert reread.files == ("new.py", "old.py")
    assert reread.old == known("old.py")


def test_a_rules_file_among_them_changes_the_rules() -> None:
    for batch in (
        [settled(".gitignore")],
        [settled("sub/.gitignore", "deleted")],
        [settled(".git/info/exclude")],
        [settled("gitignore.txt", moved_from="sub/.gitignore")],
    ):
        assert plan_reread(batch, {}).rules_changed, batch
    assert not plan_reread([settled("gitignore.txt"), settled(".gitignore.d", is_dir=True)],
                           {}).rules_changed
