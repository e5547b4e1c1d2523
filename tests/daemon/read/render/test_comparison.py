"""The regression check as text: the rule, the spec's words, the evidence, what was spared
as noise, tables that line up (daemon.read.render.comparison)."""

from __future__ import annotations

import re

from daemon.read.analysis.regression import Rule, compare
from daemon.read.render.comparison import render_text

# Ten calls a side around 341 ms; the current ones 23.2% slower, every one of them.
BASE = [("scan", 341.0 + d) for d in (-9, -7, -5, -3, -1, 1, 3, 5, 7, 9)]
SLOWER = [("scan", ms * 1.232) for _, ms in BASE]
SAME_ISH = [("scan", ms * 1.026) for _, ms in BASE]
RULE_LINES = ["Rule:      a regression is more than 20% slower than baseline, by more than "
              "5.0ms, with p < 0.01",
              "           (the measure and its median call; p: one-sided Mann-Whitney U on the "
              "per-call times)"]


def test_render_uses_the_specs_words() -> None:
    text = render_text(compare("b", BASE, "c", SLOWER))
    assert text.splitlines()[2:4] == RULE_LINES
    assert "REGRESSION: 23.2% slower than baseline\n  Current: 420ms\n  Baseline: 341ms\n" in text
    assert re.search(r"Verdict: REGRESSION - 4 measures more than 20% slower than baseline, "
                     r"by more than 5\.0ms, with p < 0\.01: overall avg \(\+23\.2%, "
                     r"p = [0-9.e-]+\), ", text)
    ok = render_text(compare("b", BASE, "c", SAME_ISH))
    assert "Performance: +2.6% vs baseline\n" in ok
    assert ok.endswith("Verdict: OK - no measure is more than 20% slower than baseline, by more "
                       "than 5.0ms, with p < 0.01\n")


def test_the_evidence_table_shows_calls_medians_ratio_interval_and_p() -> None:
    lines = render_text(compare("b", BASE, "c", SLOWER)).splitlines()
    header = next(i for i, line in enumerate(lines) if "ratio of medians [95% CI]" in line)
    assert set(lines[header + 1]) == {"-"} and len(lines[header + 1]) == len(lines[header])
    [row] = [line for line in lines[header + 2:] if line.startswith("scan")]
    assert re.fullmatch(r"scan +10/10 +341ms +420ms +1\.23 \[1\.\d\d, 1\.\d\d\] +[0-9.e-]+", row)


def test_what_the_floor_the_test_and_the_median_spared_is_named() -> None:
    # The case: a sub-millisecond call from 0.7 ms to 2.0 ms.
    quick = [("workspace_analyzer", 0.7)] * 10
    slow = [("workspace_analyzer", 2.0)] * 10
    text = render_text(compare("b", quick, "c", slow))
    assert "Within noise: workspace_analyzer avg +185.7% (1.3ms slower, under the 5.0ms " \
           "floor)" in text
    assert "Verdict: OK" in text
    one_cold = [("scan", 400.0), *[("scan", 40.0)] * 9]
    colder = [("scan", 900.0), *[("scan", 40.0)] * 9]
    text = render_text(compare("b", one_cold, "c", colder, Rule(threshold_pct=20)))
    assert re.search(r"Within noise: scan p95 \+\d+\.\d% \(p = 0\.\d+, not significant\)", text)
    shifted = [("scan", 900.0), *[("scan", 40.5)] * 9]  # the bulk 0.5 ms slower
    text = render_text(compare("b", one_cold, "c", shifted))
    assert "Within noise: scan avg +" in text
    assert "(a few calls moved it; the median call is not slower beyond the rule)" in text


def test_render_table_lines_up_and_shows_small_times() -> None:
    text = render_text(compare("b", [("x", 2.5)] * 3 + [("a_long_capability_name", 1.0)],
                               "c", [("x", 2.5)] * 3))
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("scope"))
    table = lines[header:header + 8]
    column = table[0].index("measure")
    assert [line[column:column + 3] for line in table[2:]] == ["avg", "p95"] * 3
    assert set(table[1]) == {"-"} and len(table[1]) == len(table[0])
    assert any("2.5ms" in line for line in table)
    assert any(line.startswith("a_long_capability_name  avg") and line.endswith("removed")
               for line in table)
