"""``code_indexer`` on real directories: incremental by content hash, and no bad file raising."""

from __future__ import annotations

import os
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzers.base import FULL_PASS, AnalysisResult, to_json
from analyzers.code_index.indexer import CodeIndexer
from analyzers.code_index.query import search
from analyzers.code_index.store import FileRecord, IndexStore
from analyzers.common.locations import default_index_path
from analyzers.common.secrets.redact import mask
from analyzers.registry import discover

import unprivileged


def write(root: Path, relative: str, content: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "ws")


def build_tree(root: Path) -> Path:
    write(root, "pkg/__init__.py", b"VERSION = '1.0'\n")
    write(root, "pkg/shapes.py", b"class Circle:\n    def area(self):\n        return 3\n")
    write(root, "pkg/util.py", b"def helper(x):\n    return x\n\nasync def fetch():\n    pass\n")
    write(root, "README.md", b"# Shapes\n\nUse Circle.area().\n")
    write(root, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(root, ".git/HEAD", b"ref: refs/heads/main\n")
    write(root, "node_modules/x/index.js", b"module.exports = 1;\n")
    return root


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "log.index.db"


@pytest.fixture
def indexer(index_path: Path) -> Iterator[CodeIndexer]:
    made = CodeIndexer(index_path=index_path)
    yield made
    made.close()


def contents(index_path: Path) -> dict[str, list[tuple[int, str]]]:
    """path -> [(line, text)] as the index holds them."""
    with IndexStore.open(index_path, readonly=True) as store:
        found: dict[str, list[tuple[int, str]]] = {}
        for (workspace_id,) in store.conn.execute("SELECT id FROM workspaces"):
            for path, known in store.known_files(workspace_id).items():
                found[path] = [(line, text) for line in range(1, 200)
                               if (text := store.line_text(known.id, line)) is not None]
        return found


def symbols(index_path: Path) -> set[tuple[str, str, str, int]]:
    conn = sqlite3.connect(index_path)
    try:
        return {(str(p), q, k, line) for p, q, k, line in conn.execute(
            "SELECT path, qualname, kind, line FROM symbol_locations")}
    finally:
        conn.close()


def indexed_at(index_path: Path) -> dict[str, str]:
    conn = sqlite3.connect(index_path)
    try:
        return dict(conn.execute("SELECT path, indexed_at FROM files").fetchall())
    finally:
        conn.close()


def test_a_full_pass_indexes_text_and_python_symbols(tree: Path, indexer: CodeIndexer,
                                                     index_path: Path) -> None:
    result = indexer.analyze(tree, FULL_PASS)
    data = result.data
    assert result.summary == "4 files, 1 skipped"
    assert data["mode"] == "full"
    assert data["files_indexed"] == 4 and data["skipped_binary"] == 1
    assert data["symbols"] == 5 and data["index_symbols"] == 5 and data["index_files"] == 4
    assert data["errors"] == 0 and data["index_path"] == str(index_path)
    assert to_json(data) == to_json(dict(data))  # survives the log's canonical JSON
    assert sorted(contents(index_path)) == ["README.md", "pkg/__init__.py", "pkg/shapes.py",
                                            "pkg/util.py"]
    assert contents(index_path)["README.md"] == [(1, "# Shapes"), (3, "Use Circle.area().")]
    assert symbols(index_path) == {
        ("pkg/__init__.py", "pkg.VERSION", "variable", 1),
        ("pkg/shapes.py", "pkg.shapes.Circle", "class", 1),
        ("pkg/shapes.py", "pkg.shapes.Circle.area", "method", 2),
        ("pkg/util.py", "pkg.util.helper", "function", 1),
        ("pkg/util.py", "pkg.util.fetch", "async_function", 4),
    }


def test_ignored_directories_are_neither_walked_nor_applied_to(tree: Path,
                                                               indexer: CodeIndexer) -> None:
    indexer.analyze(tree, FULL_PASS)
    assert not indexer.applies_to("node_modules/x/index.js")
    assert not indexer.applies_to(".git/HEAD")
    assert indexer.applies_to("pkg/util.py")


def test_only_changed_files_are_reindexed(tree: Path, indexer: CodeIndexer,
                                          index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    before = indexed_at(index_path)
    again = indexer.analyze(tree, FULL_PASS)
    assert again.data["files_indexed"] == 0 and again.data["files_skipped_unchanged"] == 4
    assert again.summary == "0 files, 4 unchanged, 1 skipped"

    write(tree, "pkg/util.py", b"def helper(x, y):\n    return x + y\n")
    edited = indexer.analyze(tree, ["pkg/util.py"])
    assert edited.data["files_indexed"] == 1 and edited.data["mode"] == "changes"
    assert edited.summary == "1 files"
    after = indexed_at(index_path)
    assert after["pkg/util.py"] != before["pkg/util.py"]
    assert {p: t for p, t in after.items() if p != "pkg/util.py"} == {
        p: t for p, t in before.items() if p != "pkg/util.py"}
    assert ("pkg/util.py", "pkg.util.fetch", "async_function", 4) not in symbols(index_path)
    assert contents(index_path)["pkg/util.py"] == [(1, "def helper(x, y):"),
                                                   (2, "    return x + y")]


def test_same_content_is_skipped_by_hash_even_with_a_new_mtime(tree: Path, indexer: CodeIndexer,
                                                               index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    before = indexed_at(index_path)
    path = tree / "pkg/shapes.py"
    path.write_bytes(path.read_bytes())  # an editor's save without changes
    os.utime(path, ns=(1, 1))
    result = indexer.analyze(tree, ["pkg/shapes.py"])
    assert result.data["files_indexed"] == 0 and result.data["files_skipped_unchanged"] == 1
    assert indexed_at(index_path) == before
    # The new mtime is remembered, so the next full pass does not even read the file.
    assert indexer.analyze(tree, FULL_PASS).data["files_skipped_unchanged"] == 4


def test_a_full_pass_after_an_edit_reindexes_only_that_file(tree: Path, indexer: CodeIndexer,
                                                            index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    write(tree, "README.md", b"# Shapes, rewritten and longer\n")
    result = indexer.analyze(tree, FULL_PASS)
    assert result.data["files_indexed"] == 1 and result.data["files_skipped_unchanged"] == 3
    assert contents(index_path)["README.md"] == [(1, "# Shapes, rewritten and longer")]


def test_deletes_and_renames_are_reflected(tree: Path, indexer: CodeIndexer,
                                           index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    (tree / "pkg/shapes.py").rename(tree / "pkg/geometry.py")
    renamed = indexer.analyze(tree, ["pkg/shapes.py", "pkg/geometry.py"])
    assert renamed.data["files_removed"] == 1 and renamed.data["files_indexed"] == 1
    assert "pkg/shapes.py" not in contents(index_path)
    assert ("pkg/geometry.py", "pkg.geometry.Circle", "class", 1) in symbols(index_path)

    (tree / "README.md").unlink()
    deleted = indexer.analyze(tree, ["README.md"])
    assert deleted.data["files_removed"] == 1 and deleted.data["errors"] == 0
    assert "README.md" not in contents(index_path)

    # Deleted while no session ran: the next full pass drops it.
    (tree / "pkg/util.py").unlink()
    full = indexer.analyze(tree, FULL_PASS)
    assert full.data["files_removed"] == 1
    assert sorted(contents(index_path)) == ["pkg/__init__.py", "pkg/geometry.py"]
    assert not any(p == "pkg/util.py" for p, *_ in symbols(index_path))


def test_a_file_deleted_between_the_change_and_the_read(tree: Path,
                                                        indexer: CodeIndexer) -> None:
    indexer.analyze(tree, FULL_PASS)
    result = indexer.analyze(tree, ["pkg/never-existed.py", "gone/dir/file.py"])
    assert result.data["missing"] == 2 and result.data["errors"] == 0
    assert result.data["files_removed"] == 0


def test_binary_files_are_skipped_and_a_file_turning_binary_leaves_the_index(
        tree: Path, indexer: CodeIndexer, index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    write(tree, "README.md", b"now \x00 binary")
    result = indexer.analyze(tree, ["README.md", "logo.png"])
    assert result.data["skipped_binary"] == 2 and result.data["files_removed"] == 1
    assert "README.md" not in contents(index_path)


def test_files_above_the_cap_are_skipped_with_a_count(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "small.txt", b"small\n")
    huge = root / "huge.log"
    with open(huge, "wb") as stream:
        stream.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk
    write(root, "medium.txt", b"line of text\n" * 200)  # 2,600 bytes
    indexer = CodeIndexer(index_path=index_path, max_file_bytes=2_000)
    result = indexer.analyze(root, FULL_PASS)
    assert result.data["skipped_too_large"] == 2 and result.data["files_indexed"] == 1
    assert result.data["max_file_bytes"] == 2_000
    assert sorted(contents(index_path)) == ["small.txt"]
    assert CodeIndexer(index_path=tmp_path / "other.db").analyze(
        root, FULL_PASS).data["skipped_too_large"] == 1  # the default cap is 2 MB
    with pytest.raises(ValueError):
        CodeIndexer(max_file_bytes=0)


def test_non_utf8_text_is_indexed(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "latin.txt", "café au lait\n".encode("latin-1"))
    write(root, "legacy.py", "# -*- coding: cp1252 -*-\nprice = '€5'\ndef café(): pass\n"
          .encode("cp1252"))
    write(root, "bom.py", b"\xef\xbb\xbfdef first(): pass\n")
    indexer = CodeIndexer(index_path=index_path)
    result = indexer.analyze(root, FULL_PASS)
    assert result.data["files_indexed"] == 3 and result.data["non_utf8"] == 2
    found = contents(index_path)
    assert found["latin.txt"] == [(1, "café au lait")]
    assert found["legacy.py"][1] == (2, "price = '€5'")
    assert found["bom.py"] == [(1, "def first(): pass")]
    assert {("legacy.py", "legacy.café", "function", 3), ("legacy.py", "legacy.price",
            "variable", 2), ("bom.py", "bom.first", "function", 1)} <= symbols(index_path)
    conn = sqlite3.connect(index_path)
    encodings = dict(conn.execute("SELECT path, encoding FROM files").fetchall())
    conn.close()
    assert encodings == {"latin.txt": "latin-1", "legacy.py": "cp1252", "bom.py": "utf-8"}


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names")
def test_names_with_newlines_and_invalid_utf8(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    newline = "two\nlines.py"
    invalid = os.fsdecode(b"caf\xe9.py")
    (root / newline).write_bytes(b"def newline_name(): pass\n")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.py"), "wb") as stream:
        stream.write(b"def invalid_name(): pass\n")
    indexer = CodeIndexer(index_path=index_path)
    result = indexer.analyze(root, FULL_PASS)
    assert result.data["files_indexed"] == 2 and result.data["errors"] == 0
    assert sorted(contents(index_path)) == sorted([newline, invalid])
    with IndexStore.open(index_path, readonly=True) as store:
        names = {s.path: s.qualname for s in store.symbols_named(["newline_name",
                                                                 "invalid_name"])}
    assert names == {newline: "two\nlines.newline_name", invalid: "caf\\xe9.invalid_name"}
    # Batches name them the same way (relative, surrogate-escaped) and find them unchanged.
    again = indexer.analyze(root, [newline, invalid])
    assert again.data["files_skipped_unchanged"] == 2


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_loops_and_links_are_not_followed(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "real.py", b"def real(): pass\n")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")  # a <-> b: a loop of file links
    os.symlink(".", root / "self")  # a directory link to itself
    os.symlink(str(tmp_path / "outside"), root / "out")
    write(tmp_path, "outside/secret.py", b"def outside(): pass\n")
    os.symlink("real.py", root / "alias.py")
    indexer = CodeIndexer(index_path=index_path)
    result = indexer.analyze(root, FULL_PASS)
    assert result.data["files_indexed"] == 1 and result.data["errors"] == 0
    assert result.data["skipped_not_regular"] == 5
    assert sorted(contents(index_path)) == ["real.py"]
    batch = indexer.analyze(root, ["a", "self", "alias.py"])
    assert batch.data["skipped_not_regular"] == 3 and batch.data["errors"] == 0


INDEX_SCRIPT = """
import json
import sys
from pathlib import Path
from analyzers.base import FULL_PASS
from analyzers.code_index.indexer import CodeIndexer
root, index_path, alone = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
indexer = CodeIndexer(index_path=index_path)
try:  # each named file as a batch of its own, then a full pass
    passes = [[path] for path in alone] + [FULL_PASS]
    print(json.dumps([dict(indexer.analyze(root, paths).data) for paths in passes]))
finally:
    indexer.close()
"""


@pytest.mark.skipif(os.name != "posix", reason="mode 000 files")
def test_an_unreadable_file_is_an_error_and_keeps_its_last_content() -> None:
    # As root, the indexer runs as nobody (see unprivileged), which must own its index.
    with unprivileged.sandbox() as box:
        tree = build_tree(box.dir / "ws")
        index_path = box.dir / "state" / "log.index.db"
        box.run(INDEX_SCRIPT, tree, index_path)
        secret = tree / "pkg/util.py"
        write(tree, "pkg/util.py", b"def changed(): pass\n")
        secret.chmod(0)
        result, full = box.run(INDEX_SCRIPT, tree, index_path, "pkg/util.py")
        assert result["errors"] == 1
        assert result["error_samples"][0]["path"] == "pkg/util.py"
        assert "Permission" in result["error_samples"][0]["error"]
        assert full["errors"] == 1 and full["files_removed"] == 0
        assert contents(index_path)["pkg/util.py"][0] == (1, "def helper(x):")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_is_never_opened_for_reading(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "a.txt", b"a\n")
    os.mkfifo(root / "pipe")
    result = CodeIndexer(index_path=index_path).analyze(root, FULL_PASS)
    assert result.data["skipped_not_regular"] == 1 and result.data["files_indexed"] == 1


@pytest.mark.parametrize(("source", "error"), [
    ("x = " + "+".join(["1"] * 200_000) + "\n", "RecursionError"),
    ("x = " + "-" * 100_000 + "1\n", "MemoryError"),
    ("y = " + "(" * 300 + ")" * 300 + "\n", "SyntaxError"),
])
def test_python_ast_rejects_is_still_indexed_as_text(tmp_path: Path, index_path: Path,
                                                     source: str, error: str) -> None:
    root = tmp_path / "ws"
    write(root, "deep.py", b"def before(): pass\n" + source.encode())
    write(root, "fine.py", b"def fine(): pass\n")
    result = CodeIndexer(index_path=index_path).analyze(root, FULL_PASS)
    assert result.data["files_indexed"] == 2 and result.data["syntax_errors"] == 1
    assert result.data["errors"] == 0
    assert result.data["parse_error_samples"][0]["path"] == "deep.py"
    assert result.data["parse_error_samples"][0]["error"].startswith(error)
    assert contents(index_path)["deep.py"][0] == (1, "def before(): pass")
    assert {p for p, *_ in symbols(index_path)} == {"fine.py"}


def test_a_pass_over_its_time_budget_leaves_the_rest_for_later(tree: Path, index_path: Path,
                                                               ) -> None:
    indexer = CodeIndexer(index_path=index_path, time_budget_s=1e-9)
    first = indexer.analyze(tree, FULL_PASS)
    assert first.data["files_indexed"] + first.data["skipped_binary"] == 1
    assert first.data["pending"] == 4 and first.summary.endswith("4 pending")
    calls = 0
    while indexer.analyze(tree, ["README.md"]).data["pending"]:
        calls += 1
        assert calls < 10
    assert sorted(contents(index_path)) == ["README.md", "pkg/__init__.py", "pkg/shapes.py",
                                            "pkg/util.py"]


def test_bad_paths_in_a_batch_are_errors_not_exceptions(tree: Path,
                                                        indexer: CodeIndexer) -> None:
    result = indexer.analyze(tree, ["../outside.py", "/etc/passwd", "a\x00b"])
    assert result.data["errors"] == 3 and result.data["files_indexed"] == 0


def test_nothing_is_written_inside_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "a.py", b"def a(): pass\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    # Asked to keep the index beside a log that lives in the workspace: it goes to the cache.
    indexer = CodeIndexer(log_path=root / "realworld_testing.db", env=env)
    result = indexer.analyze(root, FULL_PASS)
    assert sorted(p.name for p in root.iterdir()) == ["a.py"]
    assert result.data["index_path"] == str(default_index_path(root, env))
    assert Path(result.data["index_path"]).is_file()
    indexer.close()


def test_calls_from_different_threads_share_one_connection(tree: Path,
                                                           indexer: CodeIndexer) -> None:
    results: list[AnalysisResult] = []
    for paths in (FULL_PASS, ["README.md"]):  # the runner: a new thread per call
        thread = threading.Thread(target=lambda p=paths: results.append(
            indexer.analyze(tree, p)))
        thread.start()
        thread.join()
    assert [r.data["mode"] for r in results] == ["full", "changes"]


def test_a_workspace_moved_to_another_index_reopens(tree: Path, tmp_path: Path,
                                                    indexer: CodeIndexer) -> None:
    other = tmp_path / "other"
    write(other, "z.py", b"def z(): pass\n")
    assert indexer.analyze(tree, FULL_PASS).data["index_files"] == 4
    assert indexer.analyze(other, FULL_PASS).data["index_files"] == 1  # one workspace each
    assert indexer.analyze(tree, FULL_PASS).data["files_skipped_unchanged"] == 4


def test_discovery_builds_it_with_no_arguments() -> None:
    found = discover(entry_points=[], enabled={"code_indexer", "code_search"})
    assert found.names() == ("code_indexer", "code_search")
    assert found.errors == ()
    assert [a.activity_type for a in found.analyzers] == ["indexing", "search"]


def test_a_deleted_index_is_rebuilt_not_written_as_a_ghost(tree: Path, indexer: CodeIndexer,
                                                           index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_path}{suffix}").unlink(missing_ok=True)
    result = indexer.analyze(tree, FULL_PASS)
    assert result.data["files_indexed"] == 4
    assert sorted(contents(index_path)) == ["README.md", "pkg/__init__.py", "pkg/shapes.py",
                                            "pkg/util.py"]


def test_a_module_with_a_100k_element_literal_is_indexed_in_bounded_time(
        tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    write(root, "long_set.py", ("s = {" + ", ".join(f"'v{i}'" for i in range(100_000))
                                + "}\n").encode())
    write(root, "long_list.py", ("l = [\n" + "".join(f"    {i},\n" for i in range(100_000))
                                 + "]\n").encode())
    started = time.perf_counter()
    result = CodeIndexer(index_path=index_path).analyze(root, FULL_PASS)
    assert time.perf_counter() - started < 15.0  # about 1 s on a laptop
    assert result.data["files_indexed"] == 2 and result.data["symbols"] == 2
    assert result.data["lines"] == 1 + 100_002


def test_excluded_paths_are_never_opened_and_keep_their_entries(
        tree: Path, indexer: CodeIndexer, index_path: Path) -> None:
    indexer.analyze(tree, FULL_PASS)
    shapes, util = tree / "pkg" / "shapes.py", tree / "pkg" / "util.py"
    write(tree, "pkg/shapes.py", b"class Square:\n    pass\n")
    write(tree, "pkg/util.py", b"def other():\n    pass\n")
    write(tree, "pkg/new.py", b"def fresh():\n    pass\n")
    for path in (shapes, util, tree / "pkg" / "new.py"):
        os.utime(path, (1, time.time() + 5))  # an old atime (any read moves it), a new mtime
    indexer.exclude(frozenset({"pkg/shapes.py", "pkg/new.py"}))
    full = indexer.analyze(tree, FULL_PASS)
    batch = indexer.analyze(tree, ["pkg/shapes.py", "pkg/new.py"])
    assert full.data["skipped_quarantined"] == 2 and full.failures == ()
    assert batch.data["skipped_quarantined"] == 2 and batch.data["files_indexed"] == 0
    held = contents(index_path)
    assert "pkg/new.py" not in held
    assert (1, "class Circle:") in held["pkg/shapes.py"]  # what it was: still searchable
    if util.stat().st_atime == 1:
        pytest.skip("this file system does not record reads (noatime)")
    assert shapes.stat().st_atime == 1 and (tree / "pkg" / "new.py").stat().st_atime == 1
    indexer.exclude(frozenset())  # released
    assert indexer.analyze(tree, ["pkg/shapes.py"]).data["files_indexed"] == 1


def stored_bytes(index_path: Path) -> bytes:
    """The index file and whichever of its companions exist."""
    return b"".join(Path(f"{index_path}{s}").read_bytes() for s in ("", "-wal", "-shm")
                    if Path(f"{index_path}{s}").exists())


def _secret_workspace(root: Path) -> dict[str, str]:
    """A workspace with secrets of fresh random values; name -> value."""
    alnum = string.ascii_letters + string.digits
    values = {
        "aws_id": "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567")
                                   for _ in range(16)),
        "aws_secret": "".join(secrets.choice(alnum + "/+") for _ in range(40)),
        "github": "ghp_" + "".join(secrets.choice(alnum) for _ in range(36)),
        "password": "!" + "".join(secrets.choice(alnum) for _ in range(15)),
        "allowed": "ghp_" + "".join(secrets.choice(alnum) for _ in range(36)),
    }
    write(root, "settings.py", (
        f"AWS_ACCESS_KEY_ID = '{values['aws_id']}'\n"
        f"AWS_SECRET_ACCESS_KEY = '{values['aws_secret']}'\n"
        f"GITHUB_TOKEN = '{values['github']}'\n"
        f"FIXTURE_TOKEN = '{values['allowed']}'  # pragma: allowlist secret\n"
        "def connect():\n    return 1\n").encode())
    write(root, ".env", f"Password={values['password']}\n".encode())
    return values


def test_secrets_are_masked_before_they_are_stored(tmp_path: Path, index_path: Path) -> None:
    root = tmp_path / "ws"
    values = _secret_workspace(root)
    indexer = CodeIndexer(index_path=index_path)
    try:
        indexer.analyze(root, FULL_PASS)
    finally:
        indexer.close()
    held = contents(index_path)
    assert held["settings.py"][0] == (1, f"AWS_ACCESS_KEY_ID = '{mask(values['aws_id'])}'")
    assert held[".env"] == [(1, f"Password={mask(values['password'])}")]
    assert ("settings.py", 5) in {(s[0], s[3]) for s in symbols(index_path)}  # connect()
    data = stored_bytes(index_path)
    for name in ("aws_id", "aws_secret", "github", "password"):
        assert values[name].encode() not in data, name
    with IndexStore.open(index_path, readonly=True) as store:
        for name in ("aws_id", "aws_secret", "github", "password"):
            assert search(store, values[name]) == []
            assert search(store, values[name][4:12]) == []  # nor a piece of one
        [hit] = search(store, "GITHUB_TOKEN")
        assert hit.text == f"GITHUB_TOKEN = '{mask(values['github'])}'"
        # The user said this one is no secret: it stays searchable as written.
        [allowed] = search(store, values["allowed"])
        assert allowed.line == 4


def test_an_index_of_the_version_before_masking_is_rebuilt_masked(tmp_path: Path,
                                                                   index_path: Path) -> None:
    root = tmp_path / "ws"
    values = _secret_workspace(root)
    # What an index of version 1 held: the lines as written, secrets in clear.
    with IndexStore.open(index_path) as store:
        with store.transaction():
            ws = store.workspace_id(os.path.realpath(root), create=True)
            assert ws is not None
            store.write_file(ws, FileRecord(
                "settings.py", "h", 1, 1, "utf-8",
                [f"GITHUB_TOKEN = '{values['github']}'"]), "2026-01-01T00:00:00+00:00")
        store.conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    assert values["github"].encode() in stored_bytes(index_path)
    indexer = CodeIndexer(index_path=index_path)
    try:
        indexer.analyze(root, FULL_PASS)
    finally:
        indexer.close()
    assert values["github"].encode() not in stored_bytes(index_path)
    assert (3, f"GITHUB_TOKEN = '{mask(values['github'])}'") in contents(index_path)["settings.py"]
