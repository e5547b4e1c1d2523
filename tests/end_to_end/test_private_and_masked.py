"""Invariant 10 as a user meets it: after a real session, every report format, searches,
an archive and its restore, no file we wrote and no byte we printed holds a secret
planted in the workspace, and every file and directory we made is 0600/0700 although
every command ran with a umask of 022.

The secrets are fresh random values in the issuers' formats (never the same twice, so
nothing can pass by matching a value the code happens to know); each is one the secret
rules detect (checked first, so the test cannot pass by planting something unseen).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import sqlite3
import stat
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from analyzers.common.secrets.find import find_secrets
from analyzers.common.secrets.redact import mask

from conftest import REPO_ROOT
from waiting import wait_for

RELAXED = """\
[resource_limits]
cpu_percent_max = 100.0
memory_percent_max = 100.0
disk_percent_max = 100.0
"""
REPORT_FORMATS = ("text", "markdown", "json", "html", "sarif")
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _jwt() -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': rand(ALNUM, 12)})}." \
           f"{rand(ALNUM + '-_', 43)}"


def planted_secrets() -> dict[str, str]:
    """kind -> a fresh value (a private key: its body lines, each checked on its own)."""
    values = {
        "aws-access-key-id": "AKIA" + rand(string.ascii_uppercase + "234567", 16),
        "aws-secret-access-key": rand(ALNUM + "/+", 40),
        "github-token": "ghp_" + rand(ALNUM, 36),
        "slack-token": f"xoxb-{rand(string.digits, 11)}-{rand(string.digits, 12)}-"
                       f"{rand(ALNUM, 24)}",
        "stripe-secret-key": "sk_live_" + rand(ALNUM, 24),
        "jwt": _jwt(),
        # Unquoted in a .env, with a symbol inside so it cannot pass for a name.
        "env-password": f"{rand(ALNUM, 8)}#{rand(ALNUM, 8)}",
        "symbol-first-password": "!" + rand(ALNUM, 7) + "#" + rand(ALNUM, 7),
        "private-key": base64.b64encode(secrets.token_bytes(600)).decode(),
    }
    # A random value can spell a placeholder word ("todo", "fake"): draw again, so that
    # every value planted is one the rules detect and the test checks what it means to.
    with tempfile.TemporaryDirectory() as scratch:
        plant(Path(scratch), values)
        found = {hit.value for path in Path(scratch).rglob("*") if path.is_file()
                 for hit in find_secrets(path.read_text())}
    missed = {kind for kind, value in values.items() if kind != "private-key"
              and value not in found}
    return planted_secrets() if missed else values


def pem_lines(body: str) -> list[str]:
    return [body[i:i + 64] for i in range(0, len(body), 64)]


def plant(workspace: Path, values: dict[str, str]) -> None:
    (workspace / "app").mkdir(parents=True)
    (workspace / "app" / "settings.py").write_text(
        f"AWS_ACCESS_KEY_ID = '{values['aws-access-key-id']}'\n"
        f"AWS_SECRET_ACCESS_KEY = '{values['aws-secret-access-key']}'\n"
        f"GITHUB_TOKEN = '{values['github-token']}'\n"
        f"SLACK_BOT = '{values['slack-token']}'\n"
        f"STRIPE_KEY = '{values['stripe-secret-key']}'\n"
        f"SESSION_JWT = '{values['jwt']}'\n"
        f"db_password = \"{values['symbol-first-password']}\"\n"
        "\n"
        "def connect(host):\n"
        "    return host\n")
    (workspace / ".env").write_text(f"Password={values['env-password']}\n")
    (workspace / "deploy_key.pem").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(pem_lines(values["private-key"]))
        + "\n-----END RSA PRIVATE KEY-----\n")


def needles(values: dict[str, str]) -> dict[str, bytes]:
    """What must never appear: every value, and each line of the key's body."""
    found = {kind: value.encode() for kind, value in values.items() if kind != "private-key"}
    for number, line in enumerate(pem_lines(values["private-key"])):
        if len(line) >= 16:  # a short last line could occur by chance in compressed data
            found[f"private-key line {number}"] = line.encode()
    return found


@dataclass(frozen=True)
class Session:
    root: Path
    workspace: Path
    db: Path
    written: tuple[Path, ...]  # the roots of what realworld wrote (made by realworld)
    values: dict[str, str]
    outputs: dict[str, subprocess.CompletedProcess[str]]

    def files(self) -> Iterator[Path]:
        for top in self.written:
            if top.is_file():
                yield top
            for directory, _, names in os.walk(top):
                for name in names:
                    yield Path(directory) / name

    def directories(self) -> Iterator[Path]:
        for top in self.written:
            for directory, _, _ in os.walk(top):
                yield Path(directory)


def _env(root: Path) -> dict[str, str]:
    config = root / "config"
    (config / "realworld").mkdir(parents=True)
    (config / "realworld" / "config.toml").write_text(RELAXED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALWORLD_")}
    env.update(PYTHONPATH=str(REPO_ROOT), XDG_CONFIG_HOME=str(config),
               XDG_STATE_HOME=str(root / "xdg-state"), XDG_CACHE_HOME=str(root / "xdg-cache"))
    return env


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    root = tmp_path_factory.mktemp("private")
    workspace = root / "workspace"
    values = planted_secrets()
    plant(workspace, values)
    found = {hit.rule for path in workspace.rglob("*") if path.is_file()
             for hit in find_secrets(path.read_text())}
    assert found >= {"aws-access-key-id", "aws-secret-access-key", "github-token",
                     "slack-token", "stripe-secret-key", "jwt", "hardcoded-password",
                     "private-key"}, found
    env = _env(root)
    state = root / "state"  # where the log goes: made by the test, so its files are checked
    state.mkdir(mode=0o700)
    db = state / "log.db"
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    def realworld(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        # umask 022 is the usual one: what SQLite and open() would make world-readable.
        done = subprocess.run([sys.executable, "-m", "daemon", *argv, "--db", str(db)],
                              capture_output=True, text=True, cwd=root, env=env, timeout=180,
                              check=False, umask=0o022)
        outputs[name] = done
        return done

    reports = root / "reports" / "made-by-realworld"
    for round_ in (1, 2):  # two sessions: the archive takes the first
        done = realworld(f"run {round_}", "run", "--project", str(workspace), "--once",
                         "--quiet", "--save-report", str(reports / f"run-{round_}.html"),
                         "--format", "html")
        assert done.returncode == 0, done.stdout + done.stderr
    for fmt in REPORT_FORMATS:
        done = realworld(f"report {fmt}", "report", "--format", fmt,
                         "--output", str(reports / f"report.{fmt}"))
        assert done.returncode == 0, done.stdout + done.stderr
        realworld(f"report {fmt} stdout", "report", "--format", fmt)
    for fmt in ("text", "json", "sarif"):
        realworld(f"findings {fmt}", "findings", "--format", fmt)
    for kind, value in values.items():
        probe = pem_lines(value)[0] if kind == "private-key" else value
        realworld(f"search {kind}", "search", probe, "--json")
    realworld("search name", "search", "GITHUB_TOKEN", "--json")
    realworld("query", "query", "SELECT * FROM findings", "--format", "json")
    first = realworld("sessions", "sessions", "--json")
    assert first.returncode == 0, first.stderr
    ended = json.loads(first.stdout)
    time.sleep(1.2)  # both sessions ended more than a second ago
    archived = realworld("archive", "archive", "--older-than", "1s")
    assert archived.returncode == 0, archived.stdout + archived.stderr
    restored = realworld("restore", "archive", "--restore")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert len(ended) == 2
    return Session(root=root, workspace=workspace, db=db,
                   written=(state, reports.parent / "made-by-realworld", root / "xdg-state",
                            root / "xdg-cache"),
                   values=values, outputs=outputs)


def _readable(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".zst"):
        return data + zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def test_no_secret_in_clear_in_any_file_or_output(session: Session) -> None:
    files = list(session.files())
    names = {p.name for p in files}
    # What the run wrote, so the check below cannot pass over an empty directory.
    assert {"log.db", "log.index.db", "log.results.db", "fingerprint.salt"} <= names, names
    assert any(p.suffix == ".zst" for p in files), names  # the archive's segment
    assert {f"report.{fmt}" for fmt in REPORT_FORMATS} <= names
    leaks = [(kind, os.fspath(path)) for path in files for kind, needle in
             needles(session.values).items() if needle in _readable(path)]
    leaks += [(kind, f"{name}: {stream}") for name, done in session.outputs.items()
              for stream, text in (("stdout", done.stdout), ("stderr", done.stderr))
              for kind, needle in needles(session.values).items() if needle.decode() in text]
    assert leaks == []
    # Nothing was written into the workspace either.
    assert sorted(p.name for p in session.workspace.rglob("*")) == [
        ".env", "app", "deploy_key.pem", "settings.py"]


def test_search_finds_no_value_and_finds_the_masked_line_by_its_name(session: Session) -> None:
    for kind in session.values:
        done = session.outputs[f"search {kind}"]
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [], kind
    named = session.outputs["search name"]
    hits = json.loads(named.stdout)
    assert [(h["path"], h["line"]) for h in hits] == [("app/settings.py", 3)]
    assert hits[0]["text"] == f"GITHUB_TOKEN = '{mask(session.values['github-token'])}'"


def test_every_file_is_0600_and_every_directory_0700_under_umask_022(session: Session) -> None:
    files = list(session.files())
    assert len(files) >= 10
    loose = [(os.fspath(p), f"{stat.S_IMODE(p.stat().st_mode):04o}") for p in files
             if stat.S_IMODE(p.stat().st_mode) != 0o600]
    loose += [(os.fspath(d), f"{stat.S_IMODE(d.stat().st_mode):04o}")
              for d in session.directories() if d != session.written[0]
              and stat.S_IMODE(d.stat().st_mode) != 0o700]
    assert loose == []


def _live_files(state: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in state.iterdir() if p.is_file()}


def test_while_a_session_runs_its_wal_files_hold_no_secret_and_are_private(
        tmp_path: Path) -> None:
    # SQLite removes a -wal when the last connection closes: what a running session holds
    # there is only seen while it runs.
    workspace = tmp_path / "workspace"
    values = planted_secrets()
    plant(workspace, values)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    db = state / "log.db"
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--project", str(workspace), "--continuous",
             "--quiet", "--no-report", "--db", str(db)],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=_env(tmp_path),
            umask=0o022)
    try:
        def indexed() -> bool:
            wals = [state / "log.db-wal", state / "log.index.db-wal"]
            if not all(w.exists() and w.stat().st_size > 0 for w in wals):
                return False
            with sqlite3.connect(f"file:{state / 'log.db'}?mode=ro", uri=True) as conn:
                found = conn.execute("SELECT count(*) FROM findings").fetchone()[0]
            return bool(found)
        wait_for(indexed, timeout=90, step=0.2)
        live = _live_files(state)
        assert {"log.db-wal", "log.db-shm", "log.index.db-wal", "log.index.db-shm"} <= set(live)
        leaks = [(kind, name) for name, data in live.items()
                 for kind, needle in needles(values).items() if needle in data]
        assert leaks == []
        loose = {p.name: f"{stat.S_IMODE(p.stat().st_mode):04o}" for p in state.iterdir()
                 if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)}
        assert loose == {}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    output = (tmp_path / "out.txt").read_text()
    assert [kind for kind, needle in needles(values).items() if needle.decode() in output] == []
