"""Accepting findings into the baseline: rescanned, keyed, and version-1 files carried over."""

from __future__ import annotations

import json
from pathlib import Path

from analyzers.base import FULL_PASS
from analyzers.security.baseline import load_baseline, write_baseline
from analyzers.security.baseline_update import Wanted, accept
from analyzers.security.fingerprint import salt_id
from analyzers.security.scanner import SecurityScanner

SALT = b"update-test-salt" * 2
AWS_ID = "AKIAZ3MQ7RT2XW5NPK4E"


def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text('import subprocess\n\n\ndef run(cmd):\n'
                                 '    return subprocess.call(cmd, shell=True)\n')
    (root / "notes.md").write_text(f"key {AWS_ID}\n")
    return root


def test_accepted_rows_become_keys_that_any_salt_matches(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    path = tmp_path / "baseline.json"
    wanted = [Wanted("aws-access-key-id", "notes.md", 1), Wanted("B602", "app.py", 5),
              Wanted("B602", "app.py", 99), Wanted("jwt", "../outside.md", 1)]
    update = accept(root, wanted, load_baseline(path, None))
    assert (update.added, update.missing, update.carried, update.dropped) == (2, 2, 0, 0)
    write_baseline(path, update.entries)
    assert AWS_ID not in path.read_text()
    scanner = SecurityScanner(salt=SALT, processes=1, baseline=path,
                              cache_path=tmp_path / "cache.db")
    try:
        result = scanner.analyze(root, FULL_PASS)
    finally:
        scanner.close()
    assert [f.rule for f in result.findings] == ["B404"]  # the import was not accepted
    assert result.data["baseline"]["matched"] == 2
    again = accept(root, wanted[:1], load_baseline(path, None))
    assert again.added == 0 and len(again.entries) == 2  # nothing new, nothing lost


def test_a_version_1_file_is_carried_over_where_its_salt_is(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    scanner = SecurityScanner(salt=SALT, processes=1, cache_path=tmp_path / "cache.db")
    try:
        found = scanner.analyze(root, FULL_PASS).findings
    finally:
        scanner.close()
    aws = next(f for f in found if f.rule == "aws-access-key-id")
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"version": 1, "salt_id": salt_id(SALT), "findings": [
        {"fingerprint": aws.fingerprint, "rule": aws.rule, "path": aws.path, "line": 1},
        {"fingerprint": "f" * 32, "rule": "B602", "path": "app.py", "line": 5}]}))
    update = accept(root, [], load_baseline(path, salt_id(SALT)), SALT)
    assert (update.added, update.carried, update.dropped) == (0, 1, 1)
    assert [(e.rule, e.path) for e in update.entries] == [("aws-access-key-id", "notes.md")]
