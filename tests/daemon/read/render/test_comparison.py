"""The regression check as text: the spec's words, a table that lines up
(daemon.read.render.comparison)."""

from __future__ import annotations

from daemon.read.analysis.regression import compare
from daemon.read.render.comparison import render_text

from sessionrows import report


def test_render_uses_the_specs_words() -> None:
    text = render_text(compare(report("b", 341.0, 500.0), report("c", 420.0, 500.0), 20.0))
    assert "REGRESSION: 23.2% slower than baseline\n  Current: 420ms\n  Baseline: 341ms\n" in text
    assert "Verdict: REGRESSION - 1 measure more than 20% slower than baseline: " \
           "overall avg (+23.2%)" in text
    ok = render_text(compare(report("b", 341.0, 500.0), report("c", 350.0, 500.0), 20.0))
    assert "Performance: +2.6% vs baseline\n" in ok
    assert ok.endswith("Verdict: OK - no measure is more than 20% slower than baseline\n")


def test_render_table_lines_up_and_shows_small_times() -> None:
    text = render_text(compare(report("b", 2.5, 3.0, a_long_capability_name=(1.0, 2.0)),
                               report("c", 2.5, 3.0), 20.0))
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("scope"))
    table = lines[header:header + 6]
    column = table[0].index("measure")
    assert [line[column:column + 3] for line in table[2:]] == ["avg", "p95", "avg", "p95"]
    assert set(table[1]) == {"-"} and len(table[1]) == len(table[0])
    assert any("2.5ms" in line for line in table)
    assert any(line.startswith("a_long_capability_name  avg") and line.endswith("removed")
               for line in table)
