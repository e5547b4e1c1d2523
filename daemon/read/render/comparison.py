"""A regression check as text (:mod:`daemon.read.analysis.regression` decides it).

A table of every change, then the spec's own lines for the overall average
("REGRESSION: 23.2% slower than baseline", with the current and baseline times) so its
example output reads the same, then the verdict.
"""

from __future__ import annotations

from daemon.read.analysis.regression import OVERALL, REGRESSION, Comparison


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}ms" if abs(value) < 10 else f"{value:.0f}ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _threshold(value: float) -> str:
    return f"{value:g}%"


def render_text(comparison: Comparison) -> str:
    """A table of every change, the spec's lines for the overall average, and a verdict."""
    lines = [f"Baseline:  {comparison.baseline_id}",
             f"Current:   {comparison.current_id}",
             f"Threshold: {_threshold(comparison.threshold_pct)} slower"
             + (f" and at least {_ms(comparison.min_delta_ms)}"
                if comparison.min_delta_ms else ""),
             ""]
    scope_width = max([len("scope"), *(len(c.scope) for c in comparison.changes)])
    header = (f"{'scope':<{scope_width}}  {'measure':<7}  {'baseline':>10}  {'current':>10}  "
              f"{'change':>9}  status")
    lines += [header, "-" * len(header)]
    for c in comparison.changes:
        lines.append(f"{c.scope:<{scope_width}}  {c.measure:<7}  {_ms(c.baseline_ms):>10}  "
                     f"{_ms(c.current_ms):>10}  {_pct(c.change_pct):>9}  "
                     f"{c.status.upper() if c.status == REGRESSION else c.status}")
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
    threshold = _threshold(comparison.threshold_pct)
    if comparison.regressed:
        names = ", ".join(f"{c.scope} {c.measure} ({_pct(c.change_pct)})"
                          for c in comparison.regressions)
        count = len(comparison.regressions)
        lines.append(f"Verdict: REGRESSION - {count} measure{'s' if count != 1 else ''} more "
                     f"than {threshold} slower than baseline: {names}")
    else:
        lines.append(f"Verdict: OK - no measure is more than {threshold} slower than baseline")
    return "\n".join(lines) + "\n"
