"""IgnoreRules on real directories, checked against git itself where git is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.watch.ignore import IgnoreRules, compile_rule, normalize


def write(root: Path, rel: str, text: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def all_paths(root: Path) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            found.append((rel, name in dirnames))
    return sorted(found)


def test_nested_gitignore_applies_to_its_subtree(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n/only-root.txt\n")
    write(tmp_path, "sub/.gitignore", "!keep.log\nsecret.txt\n")
    write(tmp_path, "sub/deeper/.gitignore", "*.log\n")
    rules = IgnoreRules.load(tmp_path)

    assert rules.is_ignored("a.log")
    assert rules.is_ignored("other/a.log")
    assert not rules.is_ignored("sub/keep.log")  # re-included by the nearer file
    assert rules.is_ignored("sub/other.log")
    assert rules.is_ignored("sub/deeper/keep.log")  # the nearest file decides first
    assert rules.is_ignored("sub/secret.txt")
    assert rules.is_ignored("sub/x/secret.txt")
    assert not rules.is_ignored("secret.txt")  # sub's rules stay in sub
    assert rules.is_ignored("only-root.txt")
    assert not rules.is_ignored("sub/only-root.txt")  # anchored to its own directory
    assert not rules.is_ignored("sub/.gitignore")


def test_excluded_directory_cannot_be_reincluded_but_whitelists_work(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "build/\n!build/keep\n")
    write(tmp_path, "white/.gitignore", "*\n!*/\n!*.py\n!.gitignore\n")
    rules = IgnoreRules.load(tmp_path)

    assert rules.is_ignored("build", is_dir=True)
    assert rules.is_ignored("build/keep")  # as git: the parent directory is excluded
    assert not rules.is_ignored("build")  # "build/" only matches directories
    assert not rules.is_ignored("white/a/b", is_dir=True)
    assert not rules.is_ignored("white/a/b/c.py")
    assert rules.is_ignored("white/a/b/c.txt")
    assert not rules.is_ignored("white/.gitignore")


def test_git_dir_database_files_and_extra_globs(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "!*.sqlite\n!vendor/\n")
    db = tmp_path / "state" / "realworld.db"
    outside = tmp_path.parent / "elsewhere.db"
    rules = IgnoreRules.load(
        tmp_path, database_paths=[db, outside], extra_globs=["vendor/", "*.bak"],
    )
    assert rules.is_ignored(".git", is_dir=True)
    assert rules.is_ignored(".git/config")
    assert rules.is_ignored("worktree/.git")  # a worktree's .git file
    for name in ("realworld.db", "realworld.db-wal", "realworld.db-shm", "realworld.db-journal"):
        assert rules.is_ignored(f"state/{name}")
    assert not rules.is_ignored("state/realworld.db.txt")
    assert not rules.is_ignored("elsewhere.db")
    # extra globs win over a .gitignore's negation
    assert rules.is_ignored("vendor", is_dir=True)
    assert rules.is_ignored("vendor/lib.py")
    assert rules.is_ignored("a/b/old.bak")
    assert not rules.is_ignored("")  # the root itself


def test_database_path_through_a_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    rules = IgnoreRules.load(link, database_paths=[link / "x.db"])
    assert rules.root == str(real)
    assert rules.is_ignored("x.db-wal")


def test_reload_file_picks_up_created_changed_and_deleted_gitignores(tmp_path: Path) -> None:
    rules = IgnoreRules.load(tmp_path)
    assert not rules.is_ignored("sub/a.tmp")
    write(tmp_path, "sub/.gitignore", "*.tmp\n")
    assert not rules.is_ignored("sub/a.tmp")  # immutable until reloaded
    rules = rules.reload_file("sub/.gitignore")
    assert rules.is_ignored("sub/a.tmp")
    write(tmp_path, "sub/.gitignore", "*.tmp\n!a.tmp\n")
    rules = rules.reload_file("./sub/.gitignore")
    assert not rules.is_ignored("sub/a.tmp")
    assert rules.is_ignored("sub/b.tmp")
    (tmp_path / "sub" / ".gitignore").unlink()
    rules = rules.reload_file("sub/.gitignore")
    assert not rules.is_ignored("sub/b.tmp")
    assert rules.reload_file("not-a-rules-file.txt") is rules


def test_info_exclude_has_the_lowest_precedence(tmp_path: Path) -> None:
    write(tmp_path, ".git/info/exclude", "*.swp\nkeep.me\n")
    write(tmp_path, ".gitignore", "!keep.me\n")
    rules = IgnoreRules.load(tmp_path)
    assert rules.is_ignored("x/a.swp")
    assert not rules.is_ignored("keep.me")
    write(tmp_path, ".git/info/exclude", "")
    assert not rules.reload_file(".git/info/exclude").is_ignored("x/a.swp")
    assert IgnoreRules.is_rules_file(".git/info/exclude")
    assert IgnoreRules.is_rules_file("a/b/.gitignore")
    assert not IgnoreRules.is_rules_file("a/b/.gitignore.bak")


def test_full_reload_sees_gitignores_of_newly_unignored_directories(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "gen/\n")
    write(tmp_path, "gen/.gitignore", "*.c\n")
    rules = IgnoreRules.load(tmp_path)
    assert "gen" not in rules.levels  # ignored directories are not even read
    write(tmp_path, ".gitignore", "")
    rules = rules.reload()
    assert rules.is_ignored("gen/x.c")
    assert not rules.is_ignored("gen/x.h")


def test_odd_names_newlines_and_undecodable_bytes(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\nline\\ end \n")
    bad = os.fsdecode(b"caf\xe9.log")  # Latin-1 bytes: not UTF-8
    assert "\udce9" in bad
    rules = IgnoreRules.load(tmp_path)
    assert rules.is_ignored(bad)
    assert rules.is_ignored("new\nline.log")
    assert not rules.is_ignored("new\nline.txt")
    assert rules.is_ignored("line end")  # an escaped trailing space is kept
    assert not rules.is_ignored("line end ")


def test_crlf_bom_comments_and_invalid_lines_do_not_break_the_rest(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_bytes(
        b"\xef\xbb\xbf*.o\r\n# comment\r\n\\#hash\r\n[z-a]\r\n*.a   \r\n/\r\n"
    )
    rules = IgnoreRules.load(tmp_path)
    assert rules.is_ignored("x.o")
    assert rules.is_ignored("#hash")
    assert rules.is_ignored("lib.a")
    assert not rules.is_ignored("# comment")
    assert not rules.is_ignored("anything")  # "/" matches nothing, as in git
    assert any("[z-a]" in p for p in rules.problems)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_rules_files_that_are_fifos_links_or_directories_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".gitignore")  # a plain open() would block forever
    target = write(tmp_path, "elsewhere.txt", "*.py\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".gitignore").symlink_to(target)
    (tmp_path / "b" / ".gitignore").mkdir(parents=True)
    rules = IgnoreRules.load(tmp_path)
    assert not rules.is_ignored("a/x.py")
    assert any(p.startswith(".gitignore:") and "not a regular file" in p for p in rules.problems)


def test_normalize() -> None:
    assert normalize("./a//b/") == "a/b"
    assert normalize(".") == ""
    assert compile_rule("# only a comment") is None
    assert compile_rule("   ") is None


GIT_TREE = {
    ".gitignore": "build/\n!build/keep\n*.log\n!important.log\n/top\nfoo/**\n*.tmp\n"
                  "doc/*.txt\n**/cache/\n!**/cache/keep/\nname?\n[ab]*.c\n",
    "d/.gitignore": "*\n!*/\n!*.py\n!.gitignore\n",
    "sub/.gitignore": "!*.tmp\nlocal\n/anchored\n",
    "sub/deep/.gitignore": "*.tmp\n",
}
GIT_FILES = [
    "build/keep", "build/x", "a.log", "important.log", "logs/important.log", "logs/x.log",
    "top", "x/top", "foo/bar/z", "foo/q", "d/a.py", "d/a.txt", "d/e/b.py", "d/e/b.txt",
    "sub/a.tmp", "sub/deep/b.tmp", "sub/local", "sub/deep/local", "sub/anchored",
    "sub/deep/anchored", "c.tmp", "doc/a.txt", "doc/sub/a.txt", "x/cache/f", "x/cache/keep/f",
    "name1", "name12", "a.c", "b.c", "c.c", "dir.log/inner.txt", "src/main.py",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is the oracle")
def test_agrees_with_git_check_ignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for rel, text in GIT_TREE.items():
        write(tmp_path, rel, text)
    for rel in GIT_FILES:
        write(tmp_path, rel)
    paths = all_paths(tmp_path)
    listing = b"".join(os.fsencode(rel) + b"\0" for rel, _ in paths)
    out = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin", "-z"],
        input=listing, capture_output=True, check=False,
    ).stdout
    git_ignored = {os.fsdecode(p) for p in out.split(b"\0") if p}
    rules = IgnoreRules.load(tmp_path)
    ours = {rel for rel, is_dir in paths if rules.is_ignored(rel, is_dir)}
    assert ours == git_ignored
    assert "build/keep" in ours and "d/a.py" not in ours and "x/cache/keep/f" in ours
