"""Scanning one file as a worker does: masked, fingerprinted findings, bad Python confined to
its file.

Every value below is made up for the test (random characters in the issuers' formats).
"""

from __future__ import annotations

import hashlib
import random
import string
from pathlib import Path

from analyzers.base import Finding
from analyzers.security.file_scan import FileReport, FileScanner, FileTask

_RNG = random.Random(7)


def rand(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


AWS_ID = "AKIA" + rand(string.ascii_uppercase + "234567", 16)


def test_findings_hold_no_secret_and_survive_line_moves(tmp_path: Path) -> None:
    scanner = FileScanner(b"k" * 32)

    def scan(name: str, text: str) -> list[Finding]:
        return list(scanner.scan(FileTask(name, str(tmp_path / name), True, 1 << 20),
                                 text.encode()).findings)

    source = f"import os\nkey = '{AWS_ID}'\npassword = 'Pa55w0rd!Prod'\n"
    first = scan("app.py", source)
    moved = scan("app.py", "# a comment\n\n\n" + source)
    assert {f.fingerprint: f.line + 3 for f in first} == {f.fingerprint: f.line for f in moved}
    for finding in first:
        for value in (AWS_ID, "Pa55w0rd!Prod"):
            assert value not in repr(finding)
    edited = scan("app.py", source.replace("Pa55w0rd!Prod", "Pa55w0rd!Prod2"))
    assert {f.fingerprint for f in edited} != {f.fingerprint for f in first}
    other_file = scan("other.py", source)
    assert not {f.fingerprint for f in other_file} & {f.fingerprint for f in first}


def scan_file(scanner: FileScanner, root: Path, name: str, data: bytes) -> FileReport:
    """What a worker does with a task: read the file, scan it."""
    (root / name).write_bytes(data)
    return scanner(FileTask(name, str(root / name), python=True, max_bytes=1 << 24))


def test_nesting_too_deep_to_parse_is_an_error_for_that_file_only(tmp_path: Path) -> None:
    scanner = FileScanner(b"s" * 32)
    deep = ("password = 'Xk9#pL2qzW!'\nx = " + " + ".join(["a"] * 20000) + "\n").encode()
    report = scan_file(scanner, tmp_path, "deep.py", deep)
    assert report.problems and "not parsed" in report.problems[0]
    assert not report.python_scanned
    # The secret rules still ran on the text.
    assert [f.rule for f in report.findings] == ["hardcoded-password"]
    fine = scan_file(scanner, tmp_path, "ok.py", b"eval(x)\n")
    assert [f.rule for f in fine.findings] == ["B307"]


def test_findings_carry_our_severity_scale_and_no_secret(tmp_path: Path) -> None:
    scanner = FileScanner(b"s" * 32)
    source = b'import subprocess\npassword = "Xk9#pL2qzW"\nsubprocess.call(c, shell=True)\n'
    report = scan_file(scanner, tmp_path, "app.py", source)
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["B602"].severity == "high" and by_rule["B602"].confidence == "high"
    assert by_rule["B404"].severity == "low"
    assert by_rule["B105"].severity == "low" and by_rule["B105"].confidence == "medium"
    for finding in report.findings:
        assert "Xk9#pL2qzW" not in repr(finding)


def test_secrets_a_detect_secrets_baseline_records_are_marked_accepted(tmp_path: Path) -> None:
    source = f"key = '{AWS_ID}'\npassword = 'Pa55w0rd!Prod'\n"
    recorded = frozenset({hashlib.sha1(AWS_ID.encode(), usedforsecurity=False).hexdigest()})
    task = FileTask("app.py", str(tmp_path / "app.py"), True, 1 << 20,
                    accepted_secrets=recorded)
    report = FileScanner(b"k" * 32).scan(task, source.encode())
    by_rule = {f.rule: f.fingerprint for f in report.findings}
    assert report.accepted == (by_rule["aws-access-key-id"],)  # the password is not recorded
    plain = FileScanner(b"k" * 32).scan(FileTask("app.py", task.location, True, 1 << 20),
                                        source.encode())
    assert plain.accepted == () and plain.findings == report.findings


def test_bandit_plugin_options_reach_the_rules(tmp_path: Path) -> None:
    task = FileTask("app.py", str(tmp_path / "app.py"), True, 1 << 20)
    source = b"open('/srv/spool/a.txt', 'w')\n"
    options = '{"hardcoded_tmp_directory":{"tmp_dirs":["/srv/spool"]}}'
    assert [f.rule for f in FileScanner(b"k" * 32, options).scan(task, source).findings] == [
        "B108"]
    assert FileScanner(b"k" * 32).scan(task, source).findings == ()
