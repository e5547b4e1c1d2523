"""The baseline file: accepted findings by fingerprint, checked against the salt."""

from __future__ import annotations

from pathlib import Path

from analyzers.security.baseline import BaselineEntry, baseline_path, load_baseline, write_baseline


def test_baseline_round_trip_and_salt_check(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".realworld-baseline.json"
    entries = [BaselineEntry("f2", "B105", "b.py", 3), BaselineEntry("f1", "jwt", "a.py", 1)]
    write_baseline(path, entries, "salt-1")
    loaded = load_baseline(path, "salt-1")
    assert loaded.fingerprints == {"f1", "f2"} and not loaded.problem
    assert "f1" in loaded
    text = path.read_text()
    write_baseline(path, list(reversed(entries)), "salt-1")
    assert path.read_text() == text  # regenerating changes nothing
    other = load_baseline(path, "salt-2")
    assert other.fingerprints == frozenset() and "another fingerprint salt" in other.problem
    path.write_text("{not json")
    assert "not JSON" in load_baseline(path, "salt-1").problem
    assert load_baseline(tmp_path / "missing.json", "s").problem == ""


def test_baseline_path_resolution(tmp_path: Path) -> None:
    assert baseline_path(tmp_path, None, env={}) == tmp_path / ".realworld-baseline.json"
    assert baseline_path(tmp_path, "ci/accepted.json", env={}) == tmp_path / "ci/accepted.json"
    env = {"REALWORLD_SECURITY_BASELINE": "/etc/rw/baseline.json"}
    assert baseline_path(tmp_path, None, env=env) == Path("/etc/rw/baseline.json")
