"""The Mistake Learner's matcher: each risky shape and its fix site found in a tree, or in the
text of a file that does not parse."""

from __future__ import annotations

import ast
import textwrap

import pytest

from analyzers.patterns.matcher import MODULE, Detection, detect, detect_text
from analyzers.patterns.shapes import SHAPES


def run(source: str, path: str = "pkg/mod.py") -> Detection:
    return detect(ast.parse(textwrap.dedent(source)), path)


def shapes(source: str, path: str = "pkg/mod.py") -> list[str]:
    return sorted(o.shape for o in run(source, path).occurrences)


def fixes(source: str, path: str = "pkg/mod.py") -> list[str]:
    return sorted({f.shape for f in run(source, path).fixes})


# Each risky shape, written several ways, and the safe forms that must not be taken for it.
RISKY = [
    ("yaml_load", "import yaml\nyaml.load(s)"),
    ("yaml_load", "import yaml as y\ny.load(s, Loader=y.Loader)"),
    ("yaml_load", "from yaml import load\nload(s)"),
    ("yaml_load", "import yaml\nyaml.unsafe_load(s)"),
    ("subprocess_shell", "import subprocess\nsubprocess.run(cmd, shell=True)"),
    ("subprocess_shell", "from subprocess import Popen as P\nP(cmd, shell=1)"),
    ("subprocess_shell", "import subprocess\nsubprocess.getoutput(cmd)"),
    ("os_system", "import os\nos.system(cmd)"),
    ("os_system", "from os import popen\npopen(cmd)"),
    ("bare_except", "try:\n    f()\nexcept:\n    pass"),
    ("pickle_load", "import pickle\npickle.loads(b)"),
    ("pickle_load", "import dill\ndill.load(f)"),
    ("pickle_load", "import marshal\nmarshal.loads(b)"),
    ("eval", "eval(text)"),
    ("exec", "exec(code, {})"),
    ("assert_validation", "def f(amount):\n    assert amount > 0"),
    ("verify_false", "import requests\nrequests.get(u, verify=False)"),
    ("verify_false", "session.post(u, verify=False)"),
    ("weak_hash", "import hashlib\nhashlib.md5(d)"),
    ("weak_hash", "import hashlib\nhashlib.sha1(d)"),
    ("weak_hash", "import hashlib\nhashlib.new('MD5', d)"),
    ("random_token", "import random\ntoken = random.random()"),
    ("random_token", "import random\ndef make_password():\n    return random.choice(s)"),
    ("random_token", "from random import getrandbits\nf(api_key=getrandbits(64))"),
    ("random_token", "import random\nd = {'nonce': random.randint(0, 9)}"),
    ("mktemp", "import tempfile\ntempfile.mktemp()"),
    ("eq_none", "x == None"),
    ("eq_none", "None != x"),
]

SAFE = [
    "import yaml\nyaml.safe_load(s)",
    "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)",
    "import yaml\nyaml.load(s, yaml.CSafeLoader)",
    "import subprocess\nsubprocess.run(['ls'], shell=False)",
    "import subprocess\nsubprocess.run(['ls'])",
    "def f(shell=True):\n    return shell",
    "import platform\nplatform.system()",
    "try:\n    f()\nexcept ValueError:\n    pass",
    "import pickle\npickle.dumps(o)",
    "import json\njson.loads(b)",
    "model.eval()",
    "from ast import literal_eval\nliteral_eval(s)",
    "cursor.execute(sql)",
    "def f(amount):\n    assert CONFIG",
    "assert x > 0",  # module level: a script's sanity check, not argument validation
    "import requests\nrequests.get(u, verify=True)",
    "import requests\nrequests.get(u, verify=None)",
    "import hashlib\nhashlib.md5(d, usedforsecurity=False)",
    "import hashlib\nhashlib.sha256(d)",
    "import random\ndelay = random.uniform(0, 1)",
    "import random\nrandom.shuffle(cards)",
    "import tempfile\ntempfile.mkstemp()",
    "x is None",
    "x == 'None'",
    "x == 0",
]


@pytest.mark.parametrize(("shape", "source"), RISKY)
def test_each_risky_shape_is_found(shape: str, source: str) -> None:
    assert shape in SHAPES
    assert shapes(source) == [shape]


@pytest.mark.parametrize("source", SAFE)
def test_safe_code_is_not_a_risky_shape(source: str) -> None:
    assert shapes(source) == []


@pytest.mark.parametrize(("shape", "source"), [
    ("yaml_load", "import yaml\nyaml.safe_load(s)"),
    ("yaml_load", "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)"),
    ("subprocess_shell", "import subprocess\nsubprocess.run(['ls'])"),
    ("os_system", "import subprocess\nsubprocess.check_call(['ls'])"),
    ("bare_except", "try:\n    f()\nexcept (OSError, ValueError):\n    pass"),
    ("pickle_load", "import json\njson.loads(b)"),
    ("eval", "import ast\nast.literal_eval(s)"),
    ("assert_validation", "def f(n):\n    if n < 0:\n        raise ValueError(n)"),
    ("verify_false", "import requests\nrequests.get(u, timeout=5)"),
    ("weak_hash", "import hashlib\nhashlib.sha256(d)"),
    ("weak_hash", "import hashlib\nhashlib.md5(d, usedforsecurity=False)"),
    ("random_token", "import secrets\nsecrets.token_hex(16)"),
    ("mktemp", "import tempfile\ntempfile.NamedTemporaryFile()"),
    ("eq_none", "x is not None"),
])
def test_fix_sites_are_found(shape: str, source: str) -> None:
    assert shape in fixes(source)


def test_a_bare_except_is_not_fixed_by_base_exception() -> None:
    assert "bare_except" not in fixes("try:\n    f()\nexcept BaseException:\n    pass")


def test_asserts_in_private_helpers_state_invariants() -> None:
    assert shapes("class A:\n    def __init__(self, n):\n        assert n > 0\n") == [
        "assert_validation"]
    assert shapes("def _helper(n):\n    assert n > 0\n") == []
    assert shapes("class _Private:\n    def run(self, n):\n        assert n > 0\n") == []


def test_asserts_in_tests_are_not_validation() -> None:
    source = "def test_amount(amount):\n    assert amount > 0\n"
    assert shapes(source, "pkg/mod.py") == ["assert_validation"]
    for path in ("tests/test_mod.py", "pkg/test_mod.py", "pkg/mod_test.py", "conftest.py"):
        assert shapes(source, path) == []


def test_occurrences_know_their_function() -> None:
    detection = run("""
        import yaml

        yaml.load(a)

        def top(s):
            return yaml.load(s)

        class Loader:
            def read(self, s):
                def inner():
                    return yaml.load(s)
                return inner

            @staticmethod
            def decorated(s, default=yaml.load(d)):
                return s
    """)
    where = sorted((o.context, o.line) for o in detection.occurrences)
    # A default value is evaluated where the def is, so it belongs to the class body.
    assert where == [(MODULE, 4), ("Loader", 16), ("Loader.read.inner", 12), ("top", 7)]
    assert detection.contexts["Loader.read"] == 10 and detection.parsed


def test_excerpts_are_built_from_structure_never_copied_text() -> None:
    secret = "sk_live_51Habc123SECRET"
    detection = run(f"""
        import hashlib, random, requests, subprocess, yaml

        def f(password):
            assert password != "{secret}"
            subprocess.run("curl -H 'Authorization: {secret}' x", shell=True)
            requests.get("https://x/?key={secret}", verify=False)
            yaml.load("{secret}")
            hashlib.new("{secret}", b"x")
            token = random.choice("{secret}")
            if password == None:
                pass
    """)
    assert len(detection.occurrences) >= 6
    for item in (*detection.occurrences, *detection.fixes):
        assert secret not in item.excerpt and "curl" not in item.excerpt


def test_deep_expressions_do_not_overflow_the_detector() -> None:
    # As deep as the parser allows: the detector's own walk is iterative.
    source = "x = " + "[" * 180 + "eval(s)" + "]" * 180 + "\n"
    assert shapes(source) == ["eval"]


def test_text_fallback_finds_shapes_in_code_that_does_not_parse() -> None:
    source = textwrap.dedent("""
        import yaml
        print "python 2"
        data = yaml.load(stream)
        # yaml.load(commented) is not code
        try:
            pass
        except:
            pass
        if x == None:
            requests.get(u, verify=False)
    """)
    with pytest.raises(SyntaxError):
        ast.parse(source)
    detection = detect_text(source)
    assert not detection.parsed
    assert sorted((o.shape, o.line) for o in detection.occurrences) == [
        ("bare_except", 8), ("eq_none", 10), ("verify_false", 11), ("yaml_load", 4)]
