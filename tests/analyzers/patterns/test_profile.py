"""The learner's per-file Profile: only what the next comparison needs, never the text."""

from __future__ import annotations

import ast

from analyzers.patterns.matcher import detect, detect_text
from analyzers.patterns.profile import EMPTY_PARSED, EMPTY_UNPARSED, Pending, make_profile

SOURCE = """\
import yaml

def f(s):
    a = yaml.load(s)
    return yaml.safe_load(a)

def g(s):
    return yaml.safe_load(s)
"""


def test_fix_counts_keep_only_pairs_with_an_occurrence_or_a_pending_removal() -> None:
    detection = detect(ast.parse(SOURCE), "m.py")
    profile = make_profile(detection)
    assert [(o.shape, o.context, o.line) for o in profile.occurrences] == [("yaml_load", "f", 4)]
    assert dict(profile.fix_counts) == {("f", "yaml_load"): 1}
    waiting = Pending("yaml_load", "g", 8, "yaml.load(…)", 2)
    with_pending = make_profile(detection, [waiting])
    assert dict(with_pending.fix_counts) == {("f", "yaml_load"): 1, ("g", "yaml_load"): 1}
    assert with_pending.pending == (waiting,)


def test_occurrences_are_bounded_in_source_order() -> None:
    source = "".join(f"x{i} = y == None\n" for i in range(10))
    profile = make_profile(detect(ast.parse(source), "m.py"), max_occurrences=3)
    assert [o.line for o in profile.occurrences] == [1, 2, 3]


def test_a_file_with_nothing_shares_the_empty_profile() -> None:
    assert make_profile(detect(ast.parse("x = 1\n"), "m.py")) is EMPTY_PARSED
    assert make_profile(detect_text("x = (\n")) is EMPTY_UNPARSED
