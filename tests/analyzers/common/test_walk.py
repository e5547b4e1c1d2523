"""Listing a workspace: ignored directories pruned, odd names kept, a missing root a problem."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS
from analyzers.common.walk import list_workspace
from analyzers.workspace.analyzer import WorkspaceAnalyzer


def write(root: Path, relative: str, content: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A workspace whose census is known by hand."""
    write(tmp_path, "src/app.py", b"import os\n\nprint(os.getcwd())\n")  # 3 lines, 30 bytes
    write(tmp_path, "src/util.py", b"def f():\n    return 1")  # 2 lines, 21 bytes
    write(tmp_path, "web/index.js", b"console.log(1);\n")  # 1 line, 16 bytes
    write(tmp_path, "README.md", b"# Title\n\nText\n")  # 3 lines, 14 bytes
    write(tmp_path, "empty.txt", b"")  # 0 lines
    write(tmp_path, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")  # binary, 16 bytes
    write(tmp_path, "scripts/deploy", b"#!/usr/bin/env bash\necho hi\n")  # Shell, 28 bytes
    write(tmp_path, ".git/HEAD", b"ref: refs/heads/main\n")  # ignored
    write(tmp_path, "node_modules/x/index.js", b"module.exports = 1;\n")  # ignored
    return tmp_path


def test_listing_prunes_ignored_directories(tree: Path) -> None:
    listing = list_workspace(tree)
    assert listing.ignored == 2
    assert "src/app.py" in listing.files and not any(".git" in f for f in listing.files)
    assert list_workspace(tree) == listing  # the same tree lists the same way every time


def test_listing_a_missing_root_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    listing = list_workspace(tmp_path / "nowhere")
    assert listing.files == () and listing.problems[0][0] == "."
    data = WorkspaceAnalyzer().analyze(tmp_path / "nowhere", FULL_PASS).data
    assert data["errors"] == 1 and data["files"] == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX names")
def test_listing_keeps_surrogate_names(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(b"\xfe.py")).write_bytes(b"\n")
    assert list_workspace(tmp_path).files == (os.fsdecode(b"\xfe.py"),)


def test_the_ignore_rule_is_told_what_is_a_directory(tmp_path: Path) -> None:
    write(tmp_path, "build/out.js", b"x\n")  # a directory named build: ignored
    write(tmp_path, "src/build", b"x\n")  # a file named build: kept

    def directories_named_build(path: str, is_dir: bool) -> bool:
        return is_dir and path.rsplit("/", 1)[-1] == "build"

    listing = list_workspace(tmp_path, directories_named_build)
    assert listing.files == ("src/build",) and listing.ignored == 1
