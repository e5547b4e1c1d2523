"""Warnings on code that still has a shape the learner has seen fixed."""

from __future__ import annotations

import ast
import textwrap

from analyzers.base import LearnedPattern
from analyzers.patterns.learned_findings import warnings
from analyzers.patterns.matcher import MODULE, Detection, Occurrence, detect
from analyzers.patterns.shapes import SHAPES


def run(source: str, path: str = "pkg/mod.py") -> Detection:
    return detect(ast.parse(textwrap.dedent(source)), path)


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
