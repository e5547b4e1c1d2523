"""bandit's rules through our engine: the same issues as bandit itself, ``# nosec`` as bandit
reads it, bad Python raised for the caller or walked without recursion.

Equality is checked against bandit's own ``BanditManager`` run in the same test on the
same files: test id, line, severity and confidence, as multisets.
"""

from __future__ import annotations

import json
import sysconfig
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from bandit.core import config as b_config
from bandit.core import manager as b_manager

from analyzers.security.bandit_logging import quiet_bandit_logging
from analyzers.security.python_rules import BanditRules, PyScan, nosec_lines

quiet_bandit_logging()

Key = tuple[str, str, int, str, str]  # file name, test id, line, severity, confidence

SAMPLE = '''\
import hashlib
import os
import pickle
import random
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from subprocess import Popen as P

import requests
import yaml

PASSWORD = "Xk9#pL2qzW"
secret_token = "hunter22"
DB = {"password": "s3cr3tP4ss"}


def login(user, password="default-Pass1"):
    if password == "Op3nSesame":
        return True
    assert user, "needs a user"
    return False


def run(cmd, data, url):
    subprocess.call(cmd, shell=True)
    subprocess.Popen("ls -l", shell=True)
    os.system("rm -rf " + cmd)
    P(["ls", cmd])
    subprocess.check_output(["git", "status"])
    eval(data)
    exec(data)
    pickle.loads(data)
    yaml.load(data)
    hashlib.md5(data)
    hashlib.sha1(data, usedforsecurity=False)
    random.random()
    requests.get(url, verify=False)
    requests.post(url)
    tempfile.mktemp()
    open("/tmp/spool.txt", "w")
    os.chmod("/etc/app.conf", 0o777)
    ET.fromstring(data)
    query = "SELECT * FROM users WHERE name = '%s'" % data
    query2 = f"DELETE FROM t WHERE id = {data}"
    bind = ("0.0.0.0", 8080)
    try:
        os.remove(cmd)
    except Exception:
        pass
    connect(password="Op3nSesame42")
    for item in data:
        try:
            item()
        except Exception:
            continue
    return query, query2, bind
'''

NOSEC = '''\
import subprocess  # nosec
import pickle  # nosec B403


def run(cmd, data):
    subprocess.call(cmd, shell=True)  # nosec
    subprocess.call(cmd, shell=True)  # nosec B602
    subprocess.call(cmd, shell=True)  # nosec B607
    subprocess.call(cmd, shell=True)  # nosec: B602, B607
    subprocess.call(cmd, shell=True)  #nosec subprocess_popen_with_shell_equals_true
    subprocess.call(  # nosec B602
        cmd,
        shell=True,
    )
    subprocess.call(
        cmd,
        shell=True,  # nosec B602
    )
    pickle.loads(data)  # nosec B999
    password = "Xk9#pL2qzW"  # nosec
    assert data  # NOSEC  (upper case is not a nosec for bandit)
    return password
'''


def bandit_keys(paths: list[Path]) -> Counter[Key]:
    manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
    manager.discover_files([str(p) for p in paths])
    manager.run_tests()
    return Counter((Path(i.fname).name, i.test_id, i.lineno, i.severity, i.confidence)
                   for i in manager.get_issue_list())


def our_keys(paths: list[Path]) -> Counter[Key]:
    rules = BanditRules()
    found: Counter[Key] = Counter()
    for path in paths:
        scan = rules.scan(path.read_bytes(), str(path))
        found.update((path.name, i.test_id, i.line, i.severity, i.confidence)
                     for i in scan.issues)
    return found


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def scan(text: str, name: str = "mod.py") -> PyScan:
    return BanditRules().scan(textwrap.dedent(text).encode(), name)


# --- equality with bandit -------------------------------------------------------------


def test_same_issues_as_bandit_on_a_sample_that_trips_many_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "sample.py", SAMPLE)
    ours = our_keys([path])
    assert ours == bandit_keys([path])
    rules = {key[1] for key in ours}
    # The sample is worth comparing only if it exercises the rule families.
    assert {"B105", "B106", "B107", "B101", "B602", "B605", "B603", "B607", "B307", "B102",
            "B301", "B506", "B324", "B311", "B501", "B113", "B306", "B108", "B103", "B314",
            "B608", "B104", "B110", "B112", "B404", "B403"} <= rules


def test_plugin_options_change_the_rules_as_bandits_config_file_does(tmp_path: Path) -> None:
    path = write(tmp_path, "opts.py", """\
        import subprocess
        open("/tmp/a.txt", "w")
        open("/srv/scratch/b.txt", "w")
        subprocess.Popen("ls", shell=True)
        run_it("ls")
        try:
            pass
        except ValueError:
            pass
        """)
    options = {"hardcoded_tmp_directory": {"tmp_dirs": ["/srv/scratch"]},
               "shell_injection": {"subprocess": [], "shell": ["run_it"], "no_shell": []},
               "try_except_pass": {"check_typed_exception": True}}
    config_file = tmp_path / "bandit.yaml"
    config_file.write_text(json.dumps(options))  # JSON is YAML
    manager = b_manager.BanditManager(b_config.BanditConfig(str(config_file)), "file",
                                      quiet=True)
    manager.discover_files([str(path)])
    manager.run_tests()
    theirs = Counter((Path(i.fname).name, i.test_id, i.lineno, i.severity, i.confidence)
                     for i in manager.get_issue_list())
    issues = BanditRules(options).scan(path.read_bytes(), str(path)).issues
    ours = Counter((path.name, i.test_id, i.line, i.severity, i.confidence) for i in issues)
    assert ours == theirs
    found = {(i.test_id, i.line) for i in issues}
    assert {("B108", 3), ("B605", 5), ("B110", 8)} <= found  # each option took effect
    assert ("B108", 2) not in found and ("B602", 4) not in found
    assert {(i.test_id, i.line) for i in scan(path.read_text()).issues} >= {("B108", 2),
                                                                          ("B602", 4)}


def test_same_issues_as_bandit_with_nosec_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "nosec.py", NOSEC)
    assert our_keys([path]) == bandit_keys([path])


def test_same_issues_as_bandit_on_standard_library_modules() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = ("subprocess.py", "tarfile.py", "pickle.py", "shutil.py", "tempfile.py",
             "urllib/request.py", "http/server.py", "smtplib.py", "ftplib.py", "random.py",
             "xml/dom/minidom.py", "logging/config.py", "zipfile.py", "pdb.py")
    paths = [stdlib / name for name in names if (stdlib / name).is_file()]
    assert len(paths) >= 10
    ours = our_keys(paths)
    assert sum(ours.values()) > 50
    assert ours == bandit_keys(paths)


# --- nosec ------------------------------------------------------------------------------


def test_nosec_variants() -> None:
    issues = scan(NOSEC).issues
    lines = Counter((i.test_id, i.line) for i in issues)
    assert ("B404", 1) not in lines  # bare nosec
    assert ("B403", 2) not in lines  # nosec naming the rule
    assert ("B602", 6) not in lines
    assert ("B602", 7) not in lines
    assert ("B602", 8) in lines  # names another rule: B602 still reported
    assert ("B602", 9) not in lines  # a list, with a colon
    assert ("B602", 10) not in lines  # by test name, no space after '#'
    assert ("B602", 11) not in lines  # on the first line of a multi-line call
    assert ("B602", 15) not in lines  # on another line of the call's range
    # bandit's reading: an id it does not know leaves an empty list, i.e. a bare nosec.
    assert ("B301", 19) not in lines
    assert ("B105", 20) not in lines
    assert ("B101", 21) in lines


def test_nosec_lines_are_read_like_bandit() -> None:
    source = (b"a = 1  # nosec\nb = 2  # nosec B101, B102\nc = 3  # no sec here\n"
              b"d = 4  # nosec B101,B102\n")
    # bandit's quirk, kept: without a space after the comma only the last id counts.
    assert nosec_lines(source) == {1: set(), 2: {"B101", "B102"}, 4: {"B102"}}


# --- bad Python -------------------------------------------------------------------------


def test_syntax_errors_and_null_bytes_raise_for_the_caller() -> None:
    rules = BanditRules()
    with pytest.raises(SyntaxError):
        rules.scan(b"def broken(:\n", "broken.py")
    with pytest.raises((ValueError, SyntaxError)):
        rules.scan(b"x = 1\x00\n", "nul.py")


def test_a_long_operator_chain_is_walked_without_recursion(tmp_path: Path) -> None:
    # 2,000 nested BinOps parse, but overflow bandit's recursive walk; ours is iterative.
    source = "import pickle\nx = " + " + ".join(["a"] * 2000) + "\npickle.loads(x)\n"
    result = BanditRules().scan(source.encode(), str(tmp_path / "chain.py"))
    assert {(i.test_id, i.line) for i in result.issues} == {("B403", 1), ("B301", 3)}


def test_a_huge_literal_is_linear(tmp_path: Path) -> None:
    # bandit builds the whole literal's line range once per element: quadratic. Not here.
    items = ",\n".join(f"    'item{i}'" for i in range(100_000))
    source = f"DATA = [\n{items}\n]\n".encode()
    started = time.monotonic()
    result = BanditRules().scan(source, str(tmp_path / "long_set.py"))
    assert time.monotonic() - started < 60
    assert result.issues == ()
