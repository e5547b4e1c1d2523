"""The ``security_scanner`` analyzer on real workspaces with real worker processes.

Covers: findings in Python and in every text file, incremental scanning by content
hash, resolved findings (fixed, deleted, baselined), fingerprints that survive line
moves, the baseline, and bad input (binary, non-UTF-8, odd names, links, a FIFO, a
file deleted before the read, a 100,000-element literal, deep nesting) each confined to
its own file, and restarts that resume from the result cache.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from poolworkers import live_workers

from analyzers.base import FULL_PASS, AnalysisResult, Analyzer, FileFailure
from analyzers.security.baseline import BaselineEntry, baseline_key, write_baseline
from analyzers.security.file_scan import make_file_scanner
from analyzers.security.fingerprint import salt_id
from analyzers.security.scanner import MAX_LISTED, MAX_LISTED_CHARS, SecurityScanner

import unprivileged
from conftest import REPO_ROOT

SALT = b"test-salt-" * 4
AWS_ID = "AKIAZ3MQ7RT2XW5NPK4E"
PASSWORD = "Pa55w0rd!Prod"
GITHUB = "ghp_q8L2mZ0vX4nR7tY1wE5aS9dF3gH6jK0pB2cV"

APP = f"""\
import subprocess

password = "{PASSWORD}"


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text(APP)
    (root / "notes.md").write_text(f"# Notes\n\nThe deploy key is {AWS_ID} for now.\n")
    (root / "settings.ini").write_text("[db]\nhost = db.internal\nPassword=S3cure!Pa55w0rd\n")
    (root / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "blob.bin").write_bytes(b"\x00\x01" + AWS_ID.encode() + b"\x00" * 100)
    (root / "legacy.txt").write_bytes("café\n".encode("latin-1") + f"k={GITHUB}\n".encode())
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"token = {GITHUB}\n")  # ignored directory
    return root


@pytest.fixture
def make_scanner(monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Iterator[Callable[..., SecurityScanner]]:
    monkeypatch.delenv("REALWORLD_SECURITY_BASELINE", raising=False)
    made: list[SecurityScanner] = []

    def make(**options: Any) -> SecurityScanner:
        options.setdefault("salt", SALT)
        options.setdefault("processes", 2)
        # A cache of its own unless a test shares one: each scanner here starts cold.
        options.setdefault("cache_path", tmp_path / "caches" / f"results-{len(made)}.db")
        scanner = SecurityScanner(**options)
        made.append(scanner)
        return scanner

    yield make
    for scanner in made:
        scanner.close()


def rules_by_path(result: AnalysisResult) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in result.findings:
        found.setdefault(finding.path, set()).add(finding.rule)
    return found


def test_is_an_analyzer(make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    assert isinstance(scanner, Analyzer)
    assert (scanner.name, scanner.activity_type) == ("security_scanner", "security_scan")
    assert scanner.applies_to("pkg/app.py") and not scanner.applies_to(".git/config")


def test_full_pass_finds_python_issues_and_secrets_in_every_text_file(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    result = make_scanner().analyze(workspace, FULL_PASS)
    assert rules_by_path(result) == {
        "pkg/app.py": {"B404", "B105", "B602", "hardcoded-password"},
        "notes.md": {"aws-access-key-id"},
        "settings.ini": {"hardcoded-password"},
        "legacy.txt": {"github-token"},  # not UTF-8, still scanned
    }
    data = result.data
    assert data["files_scanned"] == 5 and data["files_cached"] == 0
    assert data["files_skipped"] == {"binary": 1}
    assert data["python_files"] == 2
    assert data["findings_by_severity"] == {"high": 5, "low": 2}
    assert data["timeouts"] == data["errors"] == 0
    assert result.summary == "7 vulnerabilities"
    assert result.resolved == ()
    assert len({f.fingerprint for f in result.findings}) == 7
    secret = next(f for f in result.findings if f.rule == "aws-access-key-id")
    assert (secret.severity, secret.line, secret.preview) == ("high", 3, "AK…(20 chars)")


def test_incremental_by_content_hash(workspace: Path,
                                     make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    first = scanner.analyze(workspace, FULL_PASS)
    again = scanner.analyze(workspace, FULL_PASS)
    assert again.data["files_scanned"] == 0 and again.data["files_cached"] == 5
    assert set(again.findings) == set(first.findings) and again.resolved == ()
    app = workspace / "pkg" / "app.py"
    os.utime(app, (time.time() + 5, time.time() + 5))  # touched, same bytes
    touched = scanner.analyze(workspace, ["pkg/app.py"])
    assert touched.data["files_scanned"] == 0 and touched.data["files_cached"] == 1
    app.write_text(APP + "\nexec(cmd)\n")
    edited = scanner.analyze(workspace, ["pkg/app.py"])
    assert edited.data["files_scanned"] == 1
    assert "B102" in rules_by_path(edited)["pkg/app.py"]
    assert all(f.path == "pkg/app.py" for f in edited.findings)


def test_fixed_and_deleted_findings_are_resolved(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    first = scanner.analyze(workspace, FULL_PASS)
    fingerprints = {(f.path, f.rule): f.fingerprint for f in first.findings}
    app = workspace / "pkg" / "app.py"
    app.write_text(APP.replace(f'password = "{PASSWORD}"', 'password = os.environ["PW"]'))
    fixed = scanner.analyze(workspace, ["pkg/app.py"])
    assert set(fixed.resolved) == {fingerprints["pkg/app.py", "B105"],
                                   fingerprints["pkg/app.py", "hardcoded-password"]}
    assert rules_by_path(fixed) == {"pkg/app.py": {"B404", "B602"}}
    (workspace / "notes.md").unlink()  # deleted, then the change event arrives
    deleted = scanner.analyze(workspace, ["notes.md"])
    assert deleted.resolved == (fingerprints["notes.md", "aws-access-key-id"],)
    assert deleted.findings == () and deleted.data["errors"] == 0
    (workspace / "settings.ini").unlink()  # deleted while nobody looked: the next full pass
    full = scanner.analyze(workspace, FULL_PASS)
    assert full.resolved == (fingerprints["settings.ini", "hardcoded-password"],)
    assert full.data["open_findings"] == len(full.findings) == 3


def test_fingerprints_survive_line_moves(workspace: Path,
                                         make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    before = {f.fingerprint: f.line for f in scanner.analyze(workspace, FULL_PASS).findings
              if f.path == "pkg/app.py"}
    app = workspace / "pkg" / "app.py"
    app.write_text('"""A docstring."""\n\n\n' + APP)
    moved = scanner.analyze(workspace, ["pkg/app.py"])
    assert moved.resolved == ()
    assert {f.fingerprint: f.line for f in moved.findings} == {
        fingerprint: line + 3 for fingerprint, line in before.items()}


def test_baseline_accepts_known_findings(workspace: Path,
                                         make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    first = scanner.analyze(workspace, FULL_PASS)
    accepted = next(f for f in first.findings if f.rule == "aws-access-key-id")
    baseline = workspace / ".realworld-baseline.json"
    key = baseline_key("secret", accepted.rule, accepted.path, AWS_ID, 0)
    write_baseline(baseline, [BaselineEntry(key, accepted.rule, accepted.path, accepted.line)])
    # The baseline file changed: that is the batch the watcher delivers.
    after = scanner.analyze(workspace, [".realworld-baseline.json"])
    assert after.resolved == (accepted.fingerprint,)
    assert after.data["files_scanned"] == 1  # notes.md, whose entries changed
    assert after.data["baseline"] == {"path": str(baseline), "version": 2, "entries": 1,
                                      "matched": 1, "problem": "", "notice": ""}
    full = scanner.analyze(workspace, FULL_PASS)
    assert accepted.fingerprint not in {f.fingerprint for f in full.findings}
    assert full.data["baselined"] == 1
    # Moved down: still the same finding, still accepted.
    (workspace / "notes.md").write_text(f"# Notes\n\n\n\nMore.\n\nThe deploy key is {AWS_ID}.\n")
    moved = scanner.analyze(workspace, ["notes.md"])
    assert moved.findings == () and moved.data["baselined"] == 1
    # An edited secret is a new finding, baseline or not.
    (workspace / "notes.md").write_text(f"The deploy key is {AWS_ID[:-1]}Q for now.\n")
    edited = scanner.analyze(workspace, ["notes.md"])
    assert [f.rule for f in edited.findings] == ["aws-access-key-id"]


def test_a_version_1_baseline_applies_with_its_salt_only(
        workspace: Path, make_scanner: Callable[..., SecurityScanner], tmp_path: Path) -> None:
    scanner = make_scanner(baseline=tmp_path / "accepted.json")
    first = scanner.analyze(workspace, FULL_PASS)
    old = {"tool": "realworld", "version": 1, "salt_id": salt_id(SALT),
           "findings": [{"fingerprint": f.fingerprint} for f in first.findings]}
    (tmp_path / "accepted.json").write_text(json.dumps(old))
    mine = scanner.analyze(workspace, FULL_PASS)
    assert mine.findings == () and mine.data["baselined"] == len(first.findings)
    assert "version-1 baseline" in mine.data["baseline"]["notice"]
    assert not mine.data["baseline"]["problem"]
    (tmp_path / "accepted.json").write_text(json.dumps({**old, "salt_id": "another-salt"}))
    again = scanner.analyze(workspace, FULL_PASS)
    assert len(again.findings) == len(first.findings)
    assert "made on another machine" in again.data["baseline"]["problem"]


def test_a_baseline_matching_nothing_is_a_problem(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    write_baseline(workspace / ".realworld-baseline.json",
                   [BaselineEntry("0" * 32, "aws-access-key-id", "notes.md", 3),
                    BaselineEntry("1" * 32, "B602", "elsewhere.py", 7)])
    with structlog.testing.capture_logs() as logs:
        result = make_scanner().analyze(workspace, FULL_PASS)
    assert result.findings and result.data["baseline"]["matched"] == 0
    problem = result.data["baseline"]["problem"]
    assert problem.startswith("none of the 2 entries of ") and "--update-baseline" in problem
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["baseline_unmatched"]


def test_odd_files_are_skipped_or_scanned_never_raised(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text(f"key={AWS_ID}\n")
    (root / "link-out").symlink_to(outside)
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    os.mkfifo(root / "pipe")
    weird = os.fsdecode(b"new\nline-\xff.cfg")
    (root / weird).write_text(f"password = {PASSWORD}\n")
    (root / "empty.py").write_text("")
    (root / "big.txt").write_text("x" * 2048)
    scanner = make_scanner(max_file_bytes=1024)
    result = scanner.analyze(root, FULL_PASS)
    assert [(f.path, f.rule) for f in result.findings] == [(weird, "hardcoded-password")]
    assert result.data["files_skipped"] == {"special": 1, "symlink": 3, "too_large": 1}
    batch = scanner.analyze(root, ["missing.py", "../outside.txt", "link-out", "pipe"])
    assert batch.findings == () and batch.data["errors"] == 0


SCAN_SCRIPT = """
import json
import sys
from pathlib import Path
from analyzers.base import FULL_PASS
from analyzers.security.scanner import MAX_LISTED, MAX_LISTED_CHARS, SecurityScanner
root, cache_path, salt = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
scanner = SecurityScanner(salt=salt.encode(), processes=2, cache_path=cache_path)
try:
    print(json.dumps(dict(scanner.analyze(root, FULL_PASS).data)))
finally:
    scanner.close()
"""


def test_an_unreadable_file_is_a_problem_not_an_error() -> None:
    # As root, the scanner runs as nobody (see unprivileged), which must own its cache.
    with unprivileged.sandbox() as box:
        root = box.dir / "locked"
        root.mkdir()
        secret = root / "secret.env"
        secret.write_text(f"KEY={AWS_ID}\n")
        secret.chmod(0)
        data = box.run(SCAN_SCRIPT, root, box.dir / "caches" / "results-0.db", SALT.decode())
    assert data["files_skipped"] == {"error": 1}
    assert data["problem_files"][0]["path"] == "secret.env"


def test_a_module_with_a_100000_element_literal_is_bounded(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "big"
    root.mkdir()
    items = ",\n".join(f"    'item{i}'" for i in range(100_000))
    (root / "long_set.py").write_text(f"DATA = {{\n{items}\n}}\n")
    (root / "ok.py").write_text("eval(x)\n")
    started = time.monotonic()
    result = make_scanner().analyze(root, FULL_PASS)
    assert time.monotonic() - started < 60
    assert rules_by_path(result) == {"ok.py": {"B307"}}
    # With a deadline it cannot meet, it is a timeout for that file only, and the same
    # bytes are not tried again.
    strict = make_scanner(file_timeout_s=0.05)
    late = strict.analyze(root, FULL_PASS)
    assert late.data["timeouts"] == 1
    assert late.data["error_files"] == [{"path": "long_set.py", "kind": "timeout",
                                         "error": "timed out after 0.05s"}]
    assert rules_by_path(late) == {"ok.py": {"B307"}}
    assert "1 file timed out" in late.summary
    again = strict.analyze(root, FULL_PASS)
    assert again.data["timeouts"] == 0 and again.data["files_skipped"] == {"failed_before": 1}


def test_nesting_too_deep_for_the_parser_is_confined_to_its_file(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    (root / "deep.py").write_text("x = " + " + ".join(["a"] * 20_000) + "\n")
    (root / "parens.py").write_text("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    (root / "ok.py").write_text("import pickle\n")
    result = make_scanner().analyze(root, FULL_PASS)
    assert rules_by_path(result) == {"ok.py": {"B403"}}
    problems = {p["path"]: p["problem"] for p in result.data["problem_files"]}
    assert set(problems) == {"deep.py", "parens.py"}
    assert all(p.startswith("python: not parsed") for p in problems.values())
    assert result.data["errors"] == 0


def test_the_data_names_a_few_problems_however_many_files_have_them(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    for i in range(12):  # each too deeply nested for the parser: a problem per file
        (root / f"parens_{i:02d}.py").write_text("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    data = make_scanner().analyze(root, FULL_PASS).data
    assert data["problems"] == 12
    assert len(data["problem_files"]) == MAX_LISTED
    assert all(len(p["problem"]) <= MAX_LISTED_CHARS for p in data["problem_files"])
    assert len(json.dumps(data)) < 2_000


def test_the_budget_defers_files_to_the_next_call(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner(budget_s=1e-9, processes=1)
    first = scanner.analyze(workspace, FULL_PASS)
    # No time at all still scans one file: a pass that always runs out of time must end.
    assert first.data["files_scanned"] == 1 and first.remaining == 4
    assert first.data["deferred"] == 4 and "4 deferred" in first.summary
    rest = scanner.analyze(workspace, ["clean.py"])  # still no time: one more file
    assert rest.data["files_scanned"] == 1 and rest.remaining == 3
    relaxed = make_scanner(budget_s=None)
    assert len(relaxed.analyze(workspace, FULL_PASS).findings) == 7


def test_activity_data_is_plain_json_without_secrets(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    result = make_scanner().analyze(workspace, FULL_PASS)
    text = json.dumps(result.data) + result.summary + repr(result.findings)
    for value in (AWS_ID, PASSWORD, GITHUB, "S3cure!Pa55w0rd"):
        assert value not in text


# --- restarts: the result cache -------------------------------------------------------

REPO_ROOT = REPO_ROOT

# Runs the scanner's first full pass in a process of its own, checkpointing every few files.
_FIRST_PASS = """
import sys
from pathlib import Path
from analyzers.security.scanner import MAX_LISTED, MAX_LISTED_CHARS, SecurityScanner
scanner = SecurityScanner(salt=bytes.fromhex(sys.argv[3]), processes=1, budget_s=None,
                          cache_path=sys.argv[2], commit_every=5, commit_seconds=0.05)
scanner.analyze(Path(sys.argv[1]), ())
print("finished", flush=True)
"""


def generate(root: Path, count: int) -> None:
    """A workspace of ``count`` files: a third with bandit issues and a password, a third
    with a key in prose, a third clean; big enough that a scan takes a moment."""
    filler = "".join(f"def helper_{i}(x):\n    return x * {i} + len(str(x))\n\n"
                     for i in range(40))
    for index in range(count):
        folder = root / f"pkg{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if index % 3 == 0:
            (folder / f"mod{index}.py").write_text(APP + filler)
        elif index % 3 == 1:
            (folder / f"notes{index}.md").write_text(f"# {index}\n\nkey {AWS_ID} here\n"
                                                     + "Some prose. " * 300)
        else:
            (folder / f"clean{index}.py").write_text(filler)


def cached_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:  # the schema not there yet
        return 0


def test_a_pass_killed_midway_resumes_where_it_stopped(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "big"
    total = 240
    generate(root, total)
    cache = tmp_path / "state" / "log.results.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    process = subprocess.Popen([sys.executable, "-c", _FIRST_PASS, str(root), str(cache),
                                SALT.hex()], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while cached_rows(cache) < 30 and time.monotonic() < deadline:
            assert process.poll() is None, "the first pass ended before it could be killed"
            time.sleep(0.01)
        process.kill()  # SIGKILL: no cleanup, no last commit
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stdout is not None and b"finished" not in process.stdout.read()
    done = cached_rows(cache)
    assert 30 <= done < total
    resumed = make_scanner(cache_path=cache).analyze(root, FULL_PASS)
    assert resumed.data["files_cached"] == done
    assert resumed.data["files_scanned"] == total - done
    uninterrupted = make_scanner().analyze(root, FULL_PASS)  # a cache of its own
    assert uninterrupted.data["files_scanned"] == total
    assert set(resumed.findings) == set(uninterrupted.findings)
    assert len(resumed.findings) == 80 * 4 + 80
    assert resumed.resolved == ()  # nothing of the killed pass had been reported
    again = make_scanner(cache_path=cache).analyze(root, FULL_PASS)  # the next restart
    assert again.data["files_scanned"] == 0 and again.data["files_cached"] == total


def test_what_changed_while_down_is_resolved_by_the_next_process(
        workspace: Path, tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    cache = tmp_path / "state" / "log.results.db"
    first_scanner = make_scanner(cache_path=cache)
    first = first_scanner.analyze(workspace, FULL_PASS)
    first_scanner.close()  # the daemon stops
    fingerprints = {(f.path, f.rule): f.fingerprint for f in first.findings}
    app = workspace / "pkg" / "app.py"
    app.write_text(APP.replace(f'password = "{PASSWORD}"', 'password = os.environ["PW"]'))
    (workspace / "notes.md").unlink()
    second = make_scanner(cache_path=cache).analyze(workspace, FULL_PASS)
    assert set(second.resolved) == {fingerprints["pkg/app.py", "B105"],
                                    fingerprints["pkg/app.py", "hardcoded-password"],
                                    fingerprints["notes.md", "aws-access-key-id"]}
    assert second.data["files_scanned"] == 1 and second.data["files_cached"] == 3
    assert second.data["open_findings"] == len(second.findings) == 4
    # The resolution is remembered too: a third process resolves nothing again.
    third = make_scanner(cache_path=cache).analyze(workspace, FULL_PASS)
    assert third.resolved == () and third.data["files_scanned"] == 0


def test_the_cache_holds_no_secret_and_another_salt_discards_it(
        workspace: Path, tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    cache = tmp_path / "state" / "log.results.db"
    scanner = make_scanner(cache_path=cache)
    assert len(scanner.analyze(workspace, FULL_PASS).findings) == 7
    scanner.close()
    stored = b"".join(Path(f"{cache}{suffix}").read_bytes() for suffix in ("", "-wal")
                      if Path(f"{cache}{suffix}").exists())
    assert b"AK\\u2026(20 chars)" in stored  # the masked preview is there...
    for value in (AWS_ID, PASSWORD, GITHUB, "S3cure!Pa55w0rd"):
        assert value.encode() not in stored  # ...the secret is not
    other = make_scanner(cache_path=cache, salt=b"another-salt-" * 3).analyze(
        workspace, FULL_PASS)
    assert other.data["files_cached"] == 0 and other.data["files_scanned"] == 5


def test_a_corrupt_cache_is_rebuilt_and_the_scan_goes_on(
        workspace: Path, tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    cache = tmp_path / "state" / "log.results.db"
    scanner = make_scanner(cache_path=cache)
    scanner.analyze(workspace, FULL_PASS)
    scanner.close()
    with sqlite3.connect(cache) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(cache, "r+b") as stream:
        stream.seek(1024)
        stream.write(b"\xff" * (cache.stat().st_size - 1024))
    rebuilt = make_scanner(cache_path=cache).analyze(workspace, FULL_PASS)
    assert rebuilt.data["files_scanned"] == 5 and len(rebuilt.findings) == 7
    again = make_scanner(cache_path=cache).analyze(workspace, FULL_PASS)
    assert again.data["files_cached"] == 5


def test_a_timeout_is_a_failure_remembered_across_restarts(
        tmp_path: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    root = tmp_path / "slow"
    root.mkdir()
    items = ",\n".join(f"    'item{i}'" for i in range(30_000))
    (root / "long_set.py").write_text(f"DATA = {{\n{items}\n}}\n")
    (root / "ok.py").write_text("eval(x)\n")
    cache = tmp_path / "state" / "log.results.db"
    strict = make_scanner(cache_path=cache, file_timeout_s=0.05, processes=1)
    late = strict.analyze(root, FULL_PASS)
    assert late.failures == (FileFailure("long_set.py", "timeout", "timed out after 0.05s"),)
    assert late.data["error_files"][0]["kind"] == "timeout"  # still there for reports
    strict.close()
    restarted = make_scanner(cache_path=cache, file_timeout_s=0.05, processes=1)
    again = restarted.analyze(root, FULL_PASS)
    assert again.data["files_skipped"] == {"failed_before": 1} and again.failures == ()
    assert again.data["files_cached"] == 1
    # A batch naming the file tries it again (the runner isolating it), and fails again.
    alone = restarted.analyze(root, ["long_set.py"])
    assert [f.kind for f in alone.failures] == ["timeout"]


def test_excluded_paths_are_never_opened(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    notes, clean = workspace / "notes.md", workspace / "clean.py"
    for path in (notes, clean):
        os.utime(path, (1, path.stat().st_mtime))  # an old atime: any read moves it
    scanner = make_scanner()
    scanner.exclude(frozenset({"notes.md"}))
    full = scanner.analyze(workspace, FULL_PASS)
    batch = scanner.analyze(workspace, ["notes.md", "clean.py"])
    assert full.data["files_skipped"] == {"binary": 1, "quarantined": 1}
    assert batch.data["files_skipped"] == {"quarantined": 1}
    assert "notes.md" not in rules_by_path(full) and full.resolved == ()
    if clean.stat().st_atime == 1:
        pytest.skip("this file system does not record reads (noatime)")
    assert notes.stat().st_atime == 1
    scanner.exclude(frozenset())  # released
    assert "notes.md" in rules_by_path(scanner.analyze(workspace, ["notes.md"]))


# --- the workspace's own conventions: bandit's config, detect-secrets' baseline, skips ---

BANDIT = Path(sys.executable).with_name("bandit")
DETECT_SECRETS = Path(sys.executable).with_name("detect-secrets")
RULE_APP = """\
import hashlib
import pickle
import subprocess

import requests
import yaml


def work(cmd, data, url):
    assert cmd, "needs a command"
    subprocess.call(cmd, shell=True)
    open("/tmp/spool.txt", "w")
    open("/var/spool/app/out.txt", "w")
    yaml.load(data)
    hashlib.md5(data)
    pickle.loads(data)
    requests.get(url, verify=False, timeout=5)
    return eval(data)
"""
TEST_CODE = """\
import subprocess


def test_work():
    assert subprocess.call("ls", shell=True) == 0
    assert eval("1") == 1
"""
CONVENTIONS_PYPROJECT = """\
[project]
name = "demo"

[tool.bandit]
skips = ["B101"]
exclude_dirs = ["tests"]

[tool.bandit.hardcoded_tmp_directory]
tmp_dirs = ["/var/spool"]
"""


@pytest.fixture
def conventions(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for name, text in {"pkg/work.py": RULE_APP, "pkg/__init__.py": "",
                       "tests/test_work.py": TEST_CODE, "tests/conftest.py": "assert True\n",
                       "scripts/tool.py": "import os\nassert os\nos.system('ls ' + 'x')\n",
                       "pyproject.toml": CONVENTIONS_PYPROJECT}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def medium_high(findings: Any) -> Counter[tuple[str, str, int, str]]:
    return Counter((f.path, f.rule, f.line, f.severity) for f in findings
                   if f.rule.startswith("B") and f.severity in ("medium", "high"))


def bandit_cli(root: Path, *config: str) -> Counter[tuple[str, str, int, str]]:
    """``bandit -c pyproject.toml -r .`` from the workspace root, its MEDIUM/HIGH issues."""
    done = subprocess.run([str(BANDIT), *config, "-r", ".", "-f", "json", "-q"], cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr
    return Counter((r["filename"].removeprefix("./"), r["test_id"], r["line_number"],
                    r["issue_severity"].lower()) for r in json.loads(done.stdout)["results"]
                   if r["issue_severity"] in ("MEDIUM", "HIGH"))


def test_with_the_workspace_bandit_config_the_findings_are_bandits(
        conventions: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    result = make_scanner().analyze(conventions, FULL_PASS)
    ours = medium_high(result.findings)
    assert ours == bandit_cli(conventions, "-c", "pyproject.toml")
    # Not vacuous: the options reached the workers (B108 on /var/spool, not on /tmp) and
    # the excluded test directory had findings to hide.
    assert ("pkg/work.py", "B108", 13, "medium") in ours
    assert ("pkg/work.py", "B108", 12, "medium") not in ours
    assert not any(f.path.startswith("tests/") and f.rule.startswith("B")
                   for f in result.findings)
    hidden = {(e["rule"], e["detail"]): e["findings"]
              for e in result.data["skipped_by_configuration"]}
    assert hidden == {
        # skips decide first, the tests' asserts included
        ("B101", "pyproject.toml [tool.bandit] skips"): 5,
        ("B602", "pyproject.toml [tool.bandit] exclude_dirs tests"): 1,
        ("B607", "pyproject.toml [tool.bandit] exclude_dirs tests"): 1,
        ("B307", "pyproject.toml [tool.bandit] exclude_dirs tests"): 1,
        ("B404", "pyproject.toml [tool.bandit] exclude_dirs tests"): 1,
    }
    assert {e["source"] for e in result.data["skipped_by_configuration"]} == {
        "workspace bandit config"}
    assert result.data["workspace_config"]["bandit"]["source"] == "pyproject.toml [tool.bandit]"
    assert result.summary.endswith(", 9 skipped by configuration")


def test_a_dot_bandit_file_is_followed_as_bandit_follows_it(
        conventions: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    (conventions / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (conventions / ".bandit").write_text("[bandit]\nskips = B101,B506\nexclude = ./tests\n")
    ours = medium_high(make_scanner().analyze(conventions, FULL_PASS).findings)
    assert ours == bandit_cli(conventions)  # bandit finds .bandit by itself
    assert not any(rule == "B506" for _, rule, _, _ in ours)


def test_changed_plugin_options_scan_again_rather_than_serve_the_cache(
        conventions: Path, make_scanner: Callable[..., SecurityScanner], tmp_path: Path) -> None:
    cache = tmp_path / "shared-results.db"
    scanner = make_scanner(cache_path=cache)
    first = scanner.analyze(conventions, FULL_PASS)
    b108 = {f.line for f in first.findings if f.rule == "B108"}
    assert b108 == {13}
    pyproject = conventions / "pyproject.toml"
    pyproject.write_text(CONVENTIONS_PYPROJECT.replace('"/var/spool"', '"/tmp"'))
    again = scanner.analyze(conventions, FULL_PASS)
    assert {f.line for f in again.findings if f.rule == "B108"} == {12}
    assert again.data["files_scanned"] >= 1
    assert {f.fingerprint for f in first.findings if f.line == 13 and f.rule == "B108"} <= set(
        again.resolved)
    scanner.close()
    # A new process over the same cache: rows scanned under other options are not served.
    pyproject.write_text(CONVENTIONS_PYPROJECT)
    restarted = make_scanner(cache_path=cache).analyze(conventions, FULL_PASS)
    assert {f.line for f in restarted.findings if f.rule == "B108"} == {13}
    assert restarted.data["files_scanned"] >= 1


def test_a_changed_selection_hides_and_shows_findings_without_scanning_again(
        conventions: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    first = scanner.analyze(conventions, FULL_PASS)
    assert "B506" in {f.rule for f in first.findings}
    (conventions / "pyproject.toml").write_text(
        CONVENTIONS_PYPROJECT.replace('skips = ["B101"]', 'skips = ["B101", "B506"]'))
    second = scanner.analyze(conventions, FULL_PASS)
    # Only pyproject.toml itself, whose bytes changed: the same options, no scan again.
    assert second.data["files_scanned"] == 1
    yaml_load = [f.fingerprint for f in first.findings if f.rule == "B506"]
    assert list(second.resolved) == yaml_load
    assert "B506" not in {f.rule for f in second.findings}
    (conventions / "pyproject.toml").unlink()  # no bandit config: the default skips
    third = scanner.analyze(conventions, FULL_PASS)
    assert {"B506", "B602", "B307"} <= {f.rule for f in third.findings
                                        if f.path in ("pkg/work.py", "tests/test_work.py")}
    assert {(e["rule"], e["source"], e["detail"]): e["findings"]
            for e in third.data["skipped_by_configuration"]} == {
        ("B101", "default", "**/tests/**"): 3}
    assert {f.path for f in third.findings if f.rule == "B101"} == {"pkg/work.py",
                                                                   "scripts/tool.py"}


def test_per_path_skips_replace_the_default_and_are_counted(
        conventions: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    (conventions / "pyproject.toml").unlink()
    ours = make_scanner(per_path_skips={"scripts/**": ["B101", "B605"]}).analyze(
        conventions, FULL_PASS)
    assert {(e["rule"], e["source"], e["detail"]): e["findings"]
            for e in ours.data["skipped_by_configuration"]} == {
        ("B101", "per-path skip", "scripts/**"): 1, ("B605", "per-path skip", "scripts/**"): 1}
    assert sum(1 for f in ours.findings if f.rule == "B101") == 4  # the tests' asserts too
    assert ours.data["workspace_config"]["per_path_skips"] == {"scripts/**": ["B101", "B605"]}
    off = make_scanner(per_path_skips={}).analyze(conventions, FULL_PASS)
    assert off.data["skipped_by_configuration"] == []
    assert sum(1 for f in off.findings if f.rule == "B101") == 5
    with pytest.raises(ValueError, match="invalid per-path skip pattern"):
        make_scanner(per_path_skips={"!tests/**": ["B101"]})


def detect_secrets_scan(root: Path) -> None:
    made = subprocess.run([str(DETECT_SECRETS), "scan", "--all-files"], cwd=root,
                          capture_output=True, text=True, check=True, timeout=120)
    (root / ".secrets.baseline").write_text(made.stdout)


def secret_rules(result: AnalysisResult) -> Counter[tuple[str, str]]:
    return Counter((f.path, f.rule) for f in result.findings if not f.rule.startswith("B"))


def test_a_detect_secrets_baseline_accepts_exactly_its_secrets(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    scanner = make_scanner()
    before = scanner.analyze(workspace, FULL_PASS)
    assert secret_rules(before) == Counter({
        ("pkg/app.py", "hardcoded-password"): 1, ("notes.md", "aws-access-key-id"): 1,
        ("settings.ini", "hardcoded-password"): 1, ("legacy.txt", "github-token"): 1})
    detect_secrets_scan(workspace)
    recorded = json.loads((workspace / ".secrets.baseline").read_text())["results"]
    # detect-secrets reads legacy.txt (Latin-1) as no text: its secret stays ours to report.
    assert "legacy.txt" not in recorded and "notes.md" in recorded
    # A secret the baseline does not know, added after the scan.
    (workspace / "deploy.env").write_text(f"AWS_KEY={AWS_ID[:-2]}ZQ\n")
    after = scanner.analyze(workspace, [".secrets.baseline", "deploy.env"])
    # Every file is reported again (what is accepted changed), its accepted ones hidden.
    assert secret_rules(after) == Counter({("deploy.env", "aws-access-key-id"): 1,
                                           ("legacy.txt", "github-token"): 1})
    assert after.data["files_scanned"] == 4  # deploy.env, and the three the baseline names
    full = scanner.analyze(workspace, FULL_PASS)
    assert secret_rules(full) == Counter({("legacy.txt", "github-token"): 1,
                                          ("deploy.env", "aws-access-key-id"): 1})
    assert {(e["rule"], e["source"], e["detail"]): e["findings"]
            for e in full.data["skipped_by_configuration"]} == {
        ("hardcoded-password", "detect-secrets baseline", ".secrets.baseline"): 2,
        ("aws-access-key-id", "detect-secrets baseline", ".secrets.baseline"): 1}
    assert full.data["workspace_config"]["detect_secrets_baseline"]["entries"] == sum(
        len(entries) for entries in recorded.values())
    assert ".secrets.baseline" not in {f.path for f in full.findings}  # hashes, not scanned
    # An edited secret hashes differently: reported again, the others stay accepted.
    (workspace / "settings.ini").write_text("[db]\nhost = db.internal\nPassword=N3w!Pa55w0rd\n")
    edited = scanner.analyze(workspace, ["settings.ini"])
    assert secret_rules(edited) == Counter({("settings.ini", "hardcoded-password"): 1})
    # What the baseline accepts survives a restart over the same cache, without a new scan.
    restarted = make_scanner(cache_path=scanner._cache_options["explicit"])
    scanner.close()
    again = restarted.analyze(workspace, FULL_PASS)
    assert again.data["files_scanned"] == 0
    assert secret_rules(again) == Counter({("legacy.txt", "github-token"): 1,
                                           ("deploy.env", "aws-access-key-id"): 1,
                                           ("settings.ini", "hardcoded-password"): 1})


def test_bad_convention_files_are_named_and_the_scan_goes_on(
        conventions: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    (conventions / ".bandit").write_text("[other]\n: : :\n- [\n")
    (conventions / ".secrets.baseline").write_text('{"findings": []}')
    with structlog.testing.capture_logs() as logs:
        result = make_scanner().analyze(conventions, FULL_PASS)
    warned = [entry["problem"] for entry in logs
              if entry["event"] == "workspace_config_ignored"]
    assert len(warned) == 2
    assert warned[0].startswith(".bandit is neither an INI file")
    assert warned[1].startswith(".secrets.baseline is not a detect-secrets baseline")
    assert {p["path"] for p in result.data["problem_files"]} >= {".bandit", ".secrets.baseline"}
    assert result.data["workspace_config"]["problems"] == warned
    # The broken .bandit is ignored, so pyproject's [tool.bandit] is what applies.
    assert medium_high(result.findings) == medium_high(
        make_scanner().analyze(conventions, FULL_PASS).findings)
    assert "B602" in {f.rule for f in result.findings}



def test_prepare_starts_the_workers_its_call_will_use(
        workspace: Path, make_scanner: Callable[..., SecurityScanner]) -> None:
    """Started while the batch's earlier calls run: one for a full pass (most passes find a
    file or two changed), one per file for a batch, up to the pool's size."""
    scanner = make_scanner()
    scanner.prepare(workspace, FULL_PASS)
    started = live_workers(make_file_scanner)
    assert len(started) == 1
    assert rules_by_path(scanner.analyze(workspace, FULL_PASS))["pkg/app.py"]
    scanner.close()
    batch = make_scanner()
    batch.prepare(workspace, ["pkg/app.py", "clean.py", "notes.md"])
    assert len(live_workers(make_file_scanner)) == 2  # processes=2
    batch.prepare(workspace, ["clean.py"])  # already started: nothing more
    assert len(live_workers(make_file_scanner)) == 2
