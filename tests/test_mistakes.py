"""The Mistake Learner's rules: each risky shape and its fix, learning from a change, warnings."""

from __future__ import annotations

import ast
import textwrap

import pytest

from analyzers.base import LearnedPattern
from analyzers.patterns.learner import MistakeLearner
from analyzers.patterns.mistakes import (
    EMPTY_PARSED,
    MODULE,
    PENDING_CHANGES,
    SHAPES,
    Detection,
    Occurrence,
    detect,
    detect_text,
    learn,
    make_profile,
    warnings,
)


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


# --- learning -----------------------------------------------------------------


def learn_from(before: str, after: str, path: str = "pkg/mod.py") -> list[LearnedPattern]:
    learned, _ = learn(path, make_profile(run(before)), run(after))
    return list(learned)


def test_a_fix_in_the_same_function_is_learned_at_the_fix() -> None:
    before = """
        import yaml

        def load(path):
            with open(path) as f:
                return yaml.load(f)
    """
    after = """
        import yaml

        def load(path):
            # safer now
            with open(path) as f:
                return yaml.safe_load(f)
    """
    (pattern,) = learn_from(before, after)
    assert (pattern.shape, pattern.path, pattern.line) == ("yaml_load", "pkg/mod.py", 7)
    assert pattern.fix == SHAPES["yaml_load"].fix
    assert pattern.before_excerpt == "yaml.load(…)" and pattern.after_excerpt == "yaml.safe_load(…)"


def test_no_change_and_unrelated_changes_teach_nothing() -> None:
    source = "import yaml\ndef f(s):\n    return yaml.load(s)\n"
    assert learn_from(source, source) == []
    assert learn_from(source, source.replace("(s)", "(stream)").replace("f(", "g(")) == []


def test_deleting_the_function_is_not_a_fix() -> None:
    kept = "def g(s):\n    return yaml.safe_load(s)\n"
    before = "import yaml\ndef f(s):\n    return yaml.load(s)\n" + kept
    after = "import yaml\n" + kept
    assert learn_from(before, after) == []


def test_a_fix_already_there_before_does_not_count() -> None:
    kept = "    if b is None:\n        return a\n"
    before = "def f(a, b):\n    if a == None:\n        return b\n" + kept
    after = "def f(a, b):\n" + kept
    assert learn_from(before, after) == []


def test_removing_eval_while_keeping_its_function_is_the_fix() -> None:
    before = "def run(code):\n    x = 1\n    return eval(code)\n"
    after = "def run(code):\n    x = 1\n    return None\n"
    (pattern,) = learn_from(before, after)
    assert (pattern.shape, pattern.line, pattern.after_excerpt) == ("eval", 1, "removed")
    # At module level there is no function to have kept: that is a deletion.
    assert learn_from("exec(code)\nx = 1\n", "x = 1\n") == []


def test_two_fixes_in_one_function_are_two_patterns() -> None:
    before = "def f(a, b):\n    if a == None:\n        pass\n    if b == None:\n        pass\n"
    after = before.replace("==", "is")
    assert [(p.shape, p.line) for p in learn_from(before, after)] == [("eq_none", 2),
                                                                      ("eq_none", 4)]


def test_a_removal_waits_a_few_changes_for_its_fix() -> None:
    v0 = "import yaml\ndef f(s):\n    return yaml.load(s)\n"
    v1 = "import yaml\ndef f(s):\n    return None\n"  # a save half-way through the edit
    v2 = "import yaml\ndef f(s):\n    return yaml.safe_load(s)\n"
    learned, pending = learn("m.py", make_profile(run(v0)), run(v1))
    assert learned == () and [(p.shape, p.context) for p in pending] == [("yaml_load", "f")]
    learned, pending = learn("m.py", make_profile(run(v1), pending), run(v2))
    assert [(p.shape, p.line) for p in learned] == [("yaml_load", 3)] and pending == ()


def test_a_pending_removal_expires() -> None:
    v0 = "import yaml\ndef f(s):\n    return yaml.load(s)\n"
    v1 = "import yaml\ndef f(s):\n    return None\n"
    _, pending = learn("m.py", make_profile(run(v0)), run(v1))
    for _ in range(PENDING_CHANGES):
        _, pending = learn("m.py", make_profile(run(v1), pending), run(v1 + "\n"))
    assert pending == ()
    later = "import yaml\ndef f(s):\n    return yaml.safe_load(s)\n"
    assert learn("m.py", make_profile(run(v1), pending), run(later))[0] == ()


def test_text_fallback_versions_teach_nothing() -> None:
    before = make_profile(detect_text("yaml.load(s)\n"))
    assert learn("m.py", before, run("import yaml\nyaml.safe_load(s)\n"))[0] == ()
    assert learn("m.py", EMPTY_PARSED, detect_text("yaml.safe_load(s)\n"))[0] == ()


# --- warnings -----------------------------------------------------------------


REFERENCE = LearnedPattern("yaml_load", SHAPES["yaml_load"].fix, "app/config.py", 12,
                           "yaml.load(…)", "yaml.safe_load(…)")


def test_warnings_name_the_fix_they_resemble() -> None:
    source = "import yaml\ndef f(s):\n    return yaml.load(s)\nx = y == None\n"
    occurrences = run(source).occurrences
    (finding,) = warnings("lib/other.py", occurrences, {"yaml_load": REFERENCE})
    assert finding.rule == "learned:yaml_load" and finding.severity == "medium"
    assert finding.path == "lib/other.py" and finding.line == 3
    assert "similar to the fix in app/config.py:12" in finding.message
    assert finding.preview == "yaml.load(…)"


def test_warning_fingerprints_survive_line_moves() -> None:
    source = "import yaml\ndef f(s):\n    a = yaml.load(s)\n    return yaml.load(a)\n"
    moved = "import yaml\n\n\n# moved\ndef f(s):\n    a = yaml.load(s)\n    return yaml.load(a)\n"
    refs = {"yaml_load": REFERENCE}
    first = warnings("m.py", run(source).occurrences, refs)
    second = warnings("m.py", run(moved).occurrences, refs)
    assert [f.fingerprint for f in first] == [f.fingerprint for f in second]
    assert len({f.fingerprint for f in first}) == 2
    assert [f.line for f in first] != [f.line for f in second]


def test_no_warning_for_a_shape_never_fixed() -> None:
    occurrences = (Occurrence("eq_none", 1, MODULE, "… == None"),)
    assert warnings("m.py", occurrences, {"yaml_load": REFERENCE}) == ()


# --- the learner's memory -----------------------------------------------------


def test_the_learner_remembers_files_and_learns_once() -> None:
    learner = MistakeLearner()
    before = run("import yaml\ndef f(s):\n    return yaml.load(s)\n")
    after = run("import yaml\ndef f(s):\n    return yaml.safe_load(s)\n")
    assert learner.observe("a.py", "h0", before) == ()  # first sight: nothing to compare
    (pattern,) = learner.observe("a.py", "h1", after)
    assert learner.references() == {"yaml_load": pattern}
    assert learner.observe("a.py", "h0", before) == ()
    assert learner.observe("a.py", "h1", after) == ()  # the same fix again is no news
    assert learner.learned_count == 1


def test_the_learner_keeps_the_last_parsed_version_through_a_broken_save() -> None:
    learner = MistakeLearner()
    learner.observe("a.py", "h0", run("import yaml\ndef f(s):\n    return yaml.load(s)\n"))
    assert learner.observe("a.py", "h1", detect_text("def f(s:\n    return yaml.\n")) == ()
    (pattern,) = learner.observe("a.py", "h2",
                                 run("import yaml\ndef f(s):\n    return yaml.safe_load(s)\n"))
    assert pattern.shape == "yaml_load"


def test_the_learners_memory_is_bounded() -> None:
    learner = MistakeLearner(max_files=3, max_per_shape=2)
    detection = run("x == None\n")
    for i in range(10):
        learner.observe(f"f{i}.py", "h", detection)
    assert learner.paths() == ("f7.py", "f8.py", "f9.py")
    added = learner.seed(LearnedPattern("eq_none", "is None", f"p{i}.py", 1) for i in range(5))
    assert added == 2 and learner.learned_count == 2
    assert learner.references()["eq_none"].path == "p0.py"
    # A shape this version does not know is ignored rather than kept forever.
    assert learner.seed([LearnedPattern("from_the_future", "x", "a.py", 1)]) == 0
