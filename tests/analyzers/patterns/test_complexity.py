"""Complexity and maintainability: radon's numbers, thresholds, fingerprints that survive moves."""

from __future__ import annotations

import ast
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest
from radon.complexity import cc_visit
from radon.metrics import mi_visit
from radon.raw import analyze

from analyzers.patterns.complexity import (
    ComplexityThresholds,
    measure_complexity,
    raw_counts,
)

from conftest import REPO_ROOT

REPO = REPO_ROOT


def branchy(name: str, branches: int, indent: str = "") -> str:
    """A function of cyclomatic complexity ``branches + 1``."""
    lines = [f"def {name}(x):"]
    lines += [f"    if x == {i}:\n        return {i}" for i in range(branches)]
    lines.append("    return -1")
    return textwrap.indent("\n".join(lines) + "\n", indent)


def test_per_function_complexity_is_radons() -> None:
    source = textwrap.dedent("""
        def simple():
            return 1

        def loops(items):
            total = 0
            for item in items:
                if item and item > 2:
                    total += item
                elif item < 0:
                    continue
            return total

        class Shape:
            def area(self, kind):
                return 1 if kind else 2

            def scale(self, factor):
                try:
                    return factor * 2
                except TypeError:
                    return None
    """)
    report = measure_complexity(source, "m.py")
    ours = {f.qualname: f.complexity for f in report.functions}
    radons = {block.fullname: block.complexity for block in cc_visit(source)
              if block.letter in ("F", "M")}
    assert ours == radons
    assert ours["loops"] == 5 and ours["Shape.area"] == 2 and ours["Shape.scale"] == 2
    assert report.max_complexity == 5
    assert report.findings == ()


def test_closures_methods_and_nested_classes_get_qualified_names() -> None:
    source = textwrap.dedent("""
        def outer():
            def inner():
                return 1
            return inner

        class Outer:
            class Inner:
                def method(self):
                    return 2
            def method(self):
                def helper():
                    return 3
                return helper
    """)
    names = {f.qualname: f.line for f in measure_complexity(source, "m.py").functions}
    assert names == {"outer": 2, "outer.inner": 3, "Outer.Inner.method": 9,
                     "Outer.method": 11, "Outer.method.helper": 12}


@pytest.mark.parametrize(("branches", "severity"), [(9, None), (10, "medium"), (19, "medium"),
                                                    (20, "high"), (30, "high")])
def test_default_thresholds(branches: int, severity: str | None) -> None:
    # complexity = branches + 1: above 10 is medium, above 20 high.
    report = measure_complexity(branchy("f", branches), "pkg/m.py")
    found = [f for f in report.findings if f.rule == "complexity"]
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == severity and finding.line == 1 and finding.path == "pkg/m.py"
    assert finding.confidence == "high"
    assert f"complexity {branches + 1}" in finding.message and "f " in finding.message


def test_thresholds_are_configurable_and_checked() -> None:
    source = branchy("f", 4)  # complexity 5
    loose = measure_complexity(source, "m.py")
    strict = measure_complexity(source, "m.py", ComplexityThresholds(medium_above=3,
                                                                     high_above=4))
    assert [f.rule for f in loose.findings] == []
    assert [(f.rule, f.severity) for f in strict.findings] == [("complexity", "high")]
    with pytest.raises(ValueError):
        ComplexityThresholds(medium_above=10, high_above=5)
    with pytest.raises(ValueError):
        ComplexityThresholds(medium_above=0)
    with pytest.raises(ValueError):
        ComplexityThresholds(low_mi_below=120.0)


def test_low_maintainability_is_a_low_finding_for_the_module() -> None:
    source = branchy("f", 3)
    report = measure_complexity(source, "m.py", ComplexityThresholds(low_mi_below=100.0))
    (finding,) = report.findings
    assert finding.rule == "maintainability" and finding.severity == "low"
    assert finding.line == 1
    assert report.maintainability is not None and report.maintainability < 100.0
    assert "maintainability index" in finding.message


def test_fingerprints_survive_line_moves_and_tell_functions_apart() -> None:
    source = branchy("busy", 12)
    moved = "import os\n\n\n# a comment\n" + source
    before = measure_complexity(source, "m.py").findings
    after = measure_complexity(moved, "m.py").findings
    assert [f.fingerprint for f in before] == [f.fingerprint for f in after]
    assert before[0].line != after[0].line
    other_file = measure_complexity(source, "n.py").findings
    other_name = measure_complexity(branchy("idle", 12), "m.py").findings
    assert other_file[0].fingerprint != before[0].fingerprint
    assert other_name[0].fingerprint != before[0].fingerprint


def test_two_definitions_of_one_name_get_two_fingerprints() -> None:
    source = branchy("f", 12) + "\n" + branchy("f", 13)
    findings = measure_complexity(source, "m.py").findings
    assert len({f.fingerprint for f in findings}) == 2


def test_messages_hold_no_source_text() -> None:
    source = "def leak(x):\n" + "".join(
        f"    if x == 'hunter2-{i}':\n        return 'sk_live_{i}'\n" for i in range(12))
    report = measure_complexity(source, "m.py")
    assert report.findings
    for finding in report.findings:
        assert "hunter2" not in finding.message and "sk_live" not in finding.message
        assert finding.preview == ""


def test_unparsable_text_raises_for_the_caller_to_confine() -> None:
    with pytest.raises(SyntaxError):
        measure_complexity("def broken(:\n", "m.py")


def test_an_empty_module_measures() -> None:
    report = measure_complexity("", "m.py")
    assert report.functions == () and report.findings == () and report.maintainability == 100.0


RAW_SNIPPETS = [
    "x = 1\n",
    "if x: y = 2\n",
    "if x:\n    y = 2\n",
    "a = 1; b = 2\nif a: b = 3; c = 4\n",
    "values = data[1:2]\nd = {'a': 1}\nf = lambda: 0\n",
    '"""Doc\n\nstring."""\n\n# comment\nx = 1  # trailing\n',
    "call(\n    1,\n\n    2,\n)\n",
    "x = 1 + \\\n    2\n",
    'def f():\n    """One line."""\n    return """a\nb"""\n',
    "class A:\n    # only a comment\n    pass\n",
    "try: 1/0\nexcept: pass\n",
    "",
    "\n\n\n",
    "x = 1",
]


@pytest.mark.parametrize("source", RAW_SNIPPETS)
def test_raw_counts_equal_radons(source: str) -> None:
    expected = analyze(source)
    counts = raw_counts(source)
    assert counts is not None
    assert (counts.lloc, counts.sloc, counts.comments, counts.multi) == (
        expected.lloc, expected.sloc, expected.comments, expected.multi)


def _real_files() -> list[Path]:
    ours = sorted((REPO / "analyzers").glob("*.py")) + sorted((REPO / "daemon").glob("*.py"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    theirs = [stdlib / name for name in ("textwrap.py", "shlex.py", "bisect.py", "fnmatch.py",
                                         "dataclasses.py", "json/decoder.py")]
    # radon's own raw analysis is quadratic on long statements: keep to modest files.
    return [p for p in ours + theirs if p.exists() and p.stat().st_size < 40_000][:30]


def test_maintainability_equals_radons_mi_visit_on_real_files() -> None:
    files = _real_files()
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        ours = measure_complexity(source, path.name, tree=ast.parse(source)).maintainability
        assert ours == pytest.approx(mi_visit(source, True), abs=1e-9), path


def test_raw_counts_are_linear_where_radon_is_not() -> None:
    # A 20,000-entry dict over as many lines: radon.raw.analyze re-tokenizes the growing
    # statement per line; one tokenize pass does not.
    def table(entries: int) -> str:
        return "TABLE = {\n" + "".join(f"    'k{i}': {i},\n" for i in range(entries)) + "}\n"

    small = analyze(table(50))
    started = time.process_time()
    counts = raw_counts(table(20_000))
    assert time.process_time() - started < 5.0
    assert counts is not None
    assert (counts.lloc, counts.comments, counts.multi) == (small.lloc, 0, 0)
    assert counts.sloc == small.sloc - 50 + 20_000
