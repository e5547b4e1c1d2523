"""The baseline file: version 2 (unsalted keys by path), and version-1 files still read."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from analyzers.security.baseline import (
    BaselineEntry,
    baseline_key,
    baseline_path,
    load_baseline,
    write_baseline,
)


def test_baseline_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".realworld-baseline.json"
    entries = [BaselineEntry("k2", "B105", "b.py", 3), BaselineEntry("k1", "jwt", "a.py", 1),
               BaselineEntry("k3", "jwt", "a.py", 9)]
    write_baseline(path, entries)
    document = json.loads(path.read_text())
    assert document["version"] == 2 and "salt_id" not in document
    loaded = load_baseline(path, None)  # no salt needed to apply it
    assert not loaded.problem and not loaded.notice and loaded.applied == 3
    assert loaded.keys_for("a.py") == {"k1", "k3"} and loaded.keys_for("b.py") == {"k2"}
    assert loaded.keys_for("c.py") == frozenset()
    text = path.read_text()
    write_baseline(path, list(reversed(entries)))
    assert path.read_text() == text  # regenerating changes nothing


def test_version_1_files_are_read_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"tool": "realworld", "version": 1, "salt_id": "salt-1",
                                "findings": [{"fingerprint": "f1", "rule": "jwt",
                                              "path": "a.py", "line": 1}]}))
    mine = load_baseline(path, "salt-1")
    assert mine.salted == {"f1"} and not mine.problem and mine.applied == 1
    assert "version-1 baseline" in mine.notice and "--update-baseline" in mine.notice
    theirs = load_baseline(path, "salt-2")
    assert theirs.applied == 0 and len(theirs.entries) == 1
    assert "made on another machine" in theirs.problem and "--update-baseline" in theirs.problem
    assert "made on another machine" in load_baseline(path, None).problem


def test_bad_files_are_problems_never_applied(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("{not json")
    assert "not JSON" in load_baseline(path, None).problem
    path.write_text(json.dumps({"version": 3, "findings": []}))
    assert "version 3" in load_baseline(path, None).problem
    path.write_text(json.dumps({"version": 2, "findings": [{"fingerprint": "f"}]}))
    assert "not a realworld baseline" in load_baseline(path, None).problem
    assert load_baseline(tmp_path / "missing.json", None).problem == ""


@given(st.text(), st.text(), st.text(), st.integers(0, 5))
def test_keys_tell_every_part_apart(rule: str, path: str, content: str, n: int) -> None:
    key = baseline_key("secret", rule, path, content, n)
    assert key == baseline_key("secret", rule, path, content, n)  # no salt: the same anywhere
    assert key != baseline_key("secret", rule, path, content, n + 1)
    assert key != baseline_key("secret", rule, path + "x", content, n)
    assert key != baseline_key("secret", rule, path, content + "x", n)
    assert key != baseline_key("bandit", rule, path, content, n)


def test_baseline_path_resolution(tmp_path: Path) -> None:
    assert baseline_path(tmp_path, None, env={}) == tmp_path / ".realworld-baseline.json"
    assert baseline_path(tmp_path, "ci/accepted.json", env={}) == tmp_path / "ci/accepted.json"
    env = {"REALWORLD_SECURITY_BASELINE": "/etc/rw/baseline.json"}
    assert baseline_path(tmp_path, None, env=env) == Path("/etc/rw/baseline.json")
