"""A regression check as text (:mod:`daemon.read.analysis.regression` decides it).

The rule, a table of every change, a table of each scope's evidence (calls, medians, the
ratio of medians with its interval, the p-value), then the spec's own lines for the
overall average ("REGRESSION: 23.2% slower than baseline", with the current and baseline
times) so its example output reads the same, what was spared as noise, and the verdict.
"""

from __future__ import annotations

from daemon.read.analysis.regression import (
    BELOW_FLOOR,
    MEDIAN_WITHIN,
    OVERALL,
    REGRESSION,
    Change,
    Comparison,
    Evidence,
    Rule,
)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}ms" if abs(value) < 10 else f"{value:.0f}ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _rule(rule: Rule) -> str:
    return (f"more than {rule.threshold_pct:g}% slower than baseline, by more than "
            f"{_ms(rule.min_delta_ms)}, with p < {rule.alpha:g}")


def _ratio(e: Evidence) -> str:
    if e.interval is None:
        return "-"
    i = e.interval
    return f"{i.ratio:.2f} [{i.low:.2f}, {i.high:.2f}]"


def _why_spared(c: Change, rule: Rule) -> str:
    if c.status == BELOW_FLOOR:
        return f"{_ms(c.delta_ms)} slower, under the {_ms(rule.min_delta_ms)} floor"
    if c.status == MEDIAN_WITHIN:
        return "a few calls moved it; the median call is not slower beyond the rule"
    return f"p = {_p(c.p_value if c.p_value is not None else 1.0)}, not significant"


def render_text(comparison: Comparison) -> str:
    """The rule, the changes, the evidence, the spec's lines, the verdict."""
    rule = comparison.rule
    lines = [f"Baseline:  {comparison.baseline_id}",
             f"Current:   {comparison.current_id}",
             f"Rule:      a regression is {_rule(rule)}",
             "           (the measure and its median call; p: one-sided Mann-Whitney U on "
             "the per-call times)",
             ""]
    scope_width = max([len("scope"), *(len(c.scope) for c in comparison.changes)])
    header = (f"{'scope':<{scope_width}}  {'measure':<7}  {'baseline':>10}  {'current':>10}  "
              f"{'change':>9}  status")
    lines += [header, "-" * len(header)]
    for c in comparison.changes:
        lines.append(f"{c.scope:<{scope_width}}  {c.measure:<7}  {_ms(c.baseline_ms):>10}  "
                     f"{_ms(c.current_ms):>10}  {_pct(c.change_pct):>9}  "
                     f"{c.status.upper() if c.status == REGRESSION else c.status}")
    if comparison.evidence:
        lines.append("")
        header = (f"{'scope':<{scope_width}}  {'calls':>11}  {'baseline median':>15}  "
                  f"{'current median':>14}  {'ratio of medians [95% CI]':>26}  "
                  f"{'p (slower)':>10}")
        lines += [header, "-" * len(header)]
        for e in comparison.evidence:
            calls = f"{e.baseline_calls}/{e.current_calls}"
            lines.append(f"{e.scope:<{scope_width}}  {calls:>11}  {_ms(e.baseline_median_ms):>15}"
                         f"  {_ms(e.current_median_ms):>14}  {_ratio(e):>26}  "
                         f"{_p(e.p_value):>10}")
    lines.append("")
    overall = comparison.change(OVERALL, "avg")
    if overall is not None and overall.change_pct is not None:
        # The spec's own wording, so its example output reads the same.
        if overall.status == REGRESSION:
            lines += [f"REGRESSION: {overall.change_pct:.1f}% slower than baseline",
                      f"  Current: {_ms(overall.current_ms)}",
                      f"  Baseline: {_ms(overall.baseline_ms)}"]
        else:
            lines.append(f"Performance: {overall.change_pct:+.1f}% vs baseline")
    for c in comparison.spared:
        lines.append(f"Within noise: {c.scope} {c.measure} {_pct(c.change_pct)} "
                     f"({_why_spared(c, rule)})")
    if comparison.regressed:
        names = ", ".join(f"{c.scope} {c.measure} ({_pct(c.change_pct)}, p = {_p(c.p_value)})"
                          if c.p_value is not None else f"{c.scope} {c.measure}"
                          for c in comparison.regressions)
        count = len(comparison.regressions)
        lines.append(f"Verdict: REGRESSION - {count} measure{'s' if count != 1 else ''} "
                     f"{_rule(rule)}: {names}")
    else:
        lines.append(f"Verdict: OK - no measure is {_rule(rule)}")
    return "\n".join(lines) + "\n"
