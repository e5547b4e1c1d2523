"""The census on real directories: exact totals, and no bad file ever raising."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS
from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon.log.hashchain import canonical_json

import unprivileged


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


def test_full_pass_census_is_exact(tree: Path) -> None:
    result = WorkspaceAnalyzer().analyze(tree, FULL_PASS)
    data = result.data
    assert data["mode"] == "full"
    assert data["files"] == 7
    assert data["text_files"] == 6 and data["binary_files"] == 1
    assert data["lines"] == 3 + 2 + 1 + 3 + 0 + 2
    assert data["bytes"] == 30 + 21 + 16 + 14 + 0 + 16 + 28
    assert data["languages"] == {
        "Python": {"files": 2, "lines": 5, "bytes": 51},
        "JavaScript": {"files": 1, "lines": 1, "bytes": 16},
        "Markdown": {"files": 1, "lines": 3, "bytes": 14},
        "Shell": {"files": 1, "lines": 2, "bytes": 28},
        "Text": {"files": 1, "lines": 0, "bytes": 0},
    }
    assert data["skipped"] == {"ignored": 2}
    assert data["errors"] == 0 and data["missing"] == 0
    assert result.summary == "7 files, 11 lines, 5 languages"
    canonical_json(data)


def test_change_batch_counts_only_the_named_files_and_their_churn(tree: Path) -> None:
    analyzer = WorkspaceAnalyzer()
    first = analyzer.analyze(tree, ["src/app.py", "README.md"])
    assert first.data["files"] == 2 and first.data["lines"] == 6
    assert first.data["mode"] == "changes"
    analyzer.analyze(tree, ["src/app.py"])
    third = analyzer.analyze(tree, ["src/app.py", "src/app.py", "web/index.js"])
    churn = third.data["churn"]
    assert churn == {
        "changes": 5, "paths": 3, "batch": 2,
        "top": [{"path": "src/app.py", "changes": 3}, {"path": "README.md", "changes": 1},
                {"path": "web/index.js", "changes": 1}],
    }
    # A full pass is a census, not a change: churn is reported, not advanced.
    full = analyzer.analyze(tree, FULL_PASS)
    assert full.data["churn"]["changes"] == 5 and full.data["churn"]["batch"] == 0
    assert analyzer.churn.count("src/app.py") == 3


def test_churn_is_per_instance(tree: Path) -> None:
    one, two = WorkspaceAnalyzer(), WorkspaceAnalyzer()
    one.analyze(tree, ["README.md"])
    assert two.analyze(tree, ["src/app.py"]).data["churn"]["paths"] == 1


def test_binary_means_a_nul_in_the_first_8_kib(tmp_path: Path) -> None:
    write(tmp_path, "early.dat", b"abc\x00def\n")
    write(tmp_path, "late.txt", b"a" * 9000 + b"\x00\n")
    data = WorkspaceAnalyzer().analyze(tmp_path, ["early.dat", "late.txt"]).data
    assert data["binary_files"] == 1 and data["text_files"] == 1
    assert data["lines"] == 1  # only the text file's lines count
    assert data["bytes"] == 8 + 9002


def test_non_utf8_content_is_counted_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "latin1.py", "café = 1\nnaïve = 2\n".encode("latin-1"))
    write(tmp_path, "cut.py", "é".encode()[:1])  # a truncated sequence at end of file
    write(tmp_path, "ok.py", "é = 1\n".encode())
    data = WorkspaceAnalyzer().analyze(tmp_path, ["latin1.py", "cut.py", "ok.py"]).data
    assert data["non_utf8_files"] == 2
    assert data["lines"] == 2 + 1 + 1


def test_odd_names_survive_into_the_log(tmp_path: Path) -> None:
    names = ["new\nline.py", "tab\tand space .py", "ünïcode.py", "-dash.py", "x" * 200 + ".py"]
    for name in names:
        write(tmp_path, name, b"x = 1\n")
    raw = os.fsdecode(b"bad\xffname.py")  # not UTF-8: Python keeps it with a surrogate
    (tmp_path / raw).write_bytes(b"y = 2\n")
    analyzer = WorkspaceAnalyzer()
    changed = analyzer.analyze(tmp_path, [*names, raw])
    assert changed.data["files"] == 6 and changed.data["lines"] == 6
    assert changed.data["errors"] == 0
    full = analyzer.analyze(tmp_path, FULL_PASS)
    assert full.data["files"] == 6
    top = {entry["path"] for entry in changed.data["churn"]["top"]}
    assert "bad\\udcffname.py" in top  # escaped, so SQLite and terminals can hold it
    canonical_json(changed.data)
    canonical_json(full.data)


def test_vanished_and_broken_paths_are_counted_not_raised(tmp_path: Path) -> None:
    write(tmp_path, "present.py", b"a = 1\n")
    write(tmp_path, "plain.txt", b"x\n")
    paths = ["gone.py", "plain.txt/child.py", "n" * 300 + ".py", "../outside.py", "/etc/hostname",
             "present.py"]
    data = WorkspaceAnalyzer().analyze(tmp_path, paths).data
    assert data["files"] == 1
    assert data["missing"] == 1  # a deletion in a batch is expected, not an error
    assert data["errors"] == 4
    errors = {sample["path"]: sample["error"] for sample in data["error_samples"]}
    assert errors["plain.txt/child.py"].startswith("NotADirectoryError")
    assert "outside the workspace" in errors["../outside.py"]
    assert "outside the workspace" in errors["/etc/hostname"]


def test_a_file_vanishing_mid_census_is_harmless(tmp_path: Path) -> None:
    for i in range(200):
        write(tmp_path, f"f{i}.py", b"x = 1\n")
    stop = threading.Event()

    def churn_files() -> None:
        while not stop.is_set():
            for i in range(200):
                (tmp_path / f"f{i}.py").unlink(missing_ok=True)
                write(tmp_path, f"f{i}.py", b"x = 1\n")

    thread = threading.Thread(target=churn_files)
    thread.start()
    try:
        for _ in range(5):
            data = WorkspaceAnalyzer().analyze(tmp_path, FULL_PASS).data
            # A file unlinked during the listing is simply not listed.
            assert data["files"] + data["missing"] + data["errors"] <= 200
    finally:
        stop.set()
        thread.join()


CENSUS_SCRIPT = """
import json
import sys
from pathlib import Path
from analyzers.base import FULL_PASS
from analyzers.workspace.analyzer import WorkspaceAnalyzer
print(json.dumps(dict(WorkspaceAnalyzer().analyze(Path(sys.argv[1]), FULL_PASS).data)))
"""


def test_unreadable_file_and_directory_are_errors() -> None:
    # Root reads everything, so as root the census runs as nobody (see unprivileged).
    with unprivileged.sandbox() as box:
        write(box.dir, "secret.py", b"x\n")
        write(box.dir, "locked/inner.py", b"x\n")
        (box.dir / "secret.py").chmod(0)
        (box.dir / "locked").chmod(0)
        data = box.run(CENSUS_SCRIPT, box.dir)
    assert data["errors"] == 2 and data["files"] == 0


def test_links_directories_and_fifos_are_skipped_without_blocking(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_bytes(b"x = 1\n" * 100)
    root = tmp_path / "ws"
    write(root, "real.py", b"x = 1\n")
    os.symlink(outside / "secret.py", root / "link.py")
    os.symlink(outside, root / "linkdir")
    os.symlink(root, root / "loop")  # a walk that followed links would go round forever
    (root / "sub").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe")  # opening this for a blocking read would hang
    analyzer = WorkspaceAnalyzer()
    full = analyzer.analyze(root, FULL_PASS).data
    assert full["files"] == 1 and full["lines"] == 1
    assert full["skipped"]["symlink"] == 3
    assert full["skipped"].get("special", 0) == (1 if hasattr(os, "mkfifo") else 0)
    batch = analyzer.analyze(root, ["link.py", "sub", "pipe", "real.py"]).data
    assert batch["files"] == 1
    assert batch["skipped"]["directory"] == 1 and batch["skipped"]["symlink"] == 1


def test_huge_files_are_sized_not_read(tmp_path: Path) -> None:
    write(tmp_path, "big.log", b"line\n" * 1000)  # 5000 bytes
    write(tmp_path, "small.py", b"a\n")
    data = WorkspaceAnalyzer(max_scan_bytes=1000).analyze(tmp_path, ["big.log", "small.py"]).data
    assert data["huge_files"] == 1
    assert data["bytes"] == 5002
    assert data["lines"] == 1  # the huge file's lines are not counted


def test_applies_to_follows_the_ignore_rule() -> None:
    analyzer = WorkspaceAnalyzer()
    assert analyzer.applies_to("src/app.py")
    assert not analyzer.applies_to(".git/index")
    assert not analyzer.applies_to("web/node_modules/react/index.js")
    custom = WorkspaceAnalyzer(ignore=lambda path, is_dir: path.endswith(".log"))
    assert not custom.applies_to("app.log") and custom.applies_to(".git/index")
