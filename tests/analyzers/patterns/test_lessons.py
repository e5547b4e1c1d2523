"""What a change teaches: a shape leaving a function as its fix arrives, and removals that
wait for their fix."""

from __future__ import annotations

import ast
import textwrap

from analyzers.base import LearnedPattern
from analyzers.patterns.lessons import PENDING_CHANGES, learn
from analyzers.patterns.matcher import Detection, detect, detect_text
from analyzers.patterns.profile import EMPTY_PARSED, make_profile
from analyzers.patterns.shapes import SHAPES


def run(source: str, path: str = "pkg/mod.py") -> Detection:
    return detect(ast.parse(textwrap.dedent(source)), path)


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
