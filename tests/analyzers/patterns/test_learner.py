"""The Mistake Learner's memory: files seen, patterns learned once, bounds."""

from __future__ import annotations

import ast
import textwrap

from analyzers.base import LearnedPattern
from analyzers.patterns.learner import MistakeLearner
from analyzers.patterns.matcher import Detection, detect, detect_text


def run(source: str, path: str = "pkg/mod.py") -> Detection:
    return detect(ast.parse(textwrap.dedent(source)), path)


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
