"""Quality gates for ``realworld run --fail-under SCORE --fail-on critical|high``.

:func:`gate` is a pure function over the analysis API dict
(:func:`daemon.read.analysis.api.to_api_dict`), so the spec's CI and pre-commit examples
become exit codes. Its rules are the spec's "Integration with CI/CD" check:

* ``--fail-under SCORE``: fails when ``session.overall_score < SCORE`` (strictly below,
  as the spec's ``score < 70``); reason ``Quality score 62.3 below threshold (70)``.
* ``--fail-on LEVEL``: fails when any open issue (recorded or just detected,
  ``top_issues``) or any open finding of the session (a secret, a ``shell=True``) is at
  LEVEL or more severe: ``critical`` counts critical ones only, ``high`` counts critical
  and high, and so on down the spec's severity ladder, as ``bandit -l``/``ruff`` fail on
  what they find. ``--fail-on-confidence LEVEL`` counts only findings a rule is at least
  that sure of (bandit's ``-i``; default: any).
* With any gate set, a session that recorded **no activities** fails too: nothing was
  shown to work, and a gate must not pass an idle run.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from daemon.types import CONFIDENCE_RANK, CONFIDENCES, SEVERITY_RANK, severity_rank

FAIL_ON_LEVELS: Final = ("critical", "high", "medium", "low")
FAIL_ON_CONFIDENCES: Final = CONFIDENCES
MAX_LISTED: Final = 3  # issues named in a reason; the report has them all


def parse_score(text: str) -> float:
    """argparse ``type`` for ``--fail-under``: a number from 0 to 100."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a score from 0 to 100, got {text!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be a score from 0 to 100, got {text!r}")
    return value


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _issue_reason(found: Sequence[Mapping[str, Any]], level: str) -> str:
    count = len(found)
    noun = "issue" if count == 1 else "issues"
    if level == "critical":
        head = f"{count} critical {noun} found"
    else:
        by_severity = [f"{sum(1 for i in found if i.get('severity') == s)} {s}"
                       for s in SEVERITY_RANK if SEVERITY_RANK[s] <= SEVERITY_RANK[level]]
        head = f"{count} {noun} at severity {level} or above found ({', '.join(by_severity)})"
    named = "; ".join(f"{i.get('capability')}: {i.get('description') or i.get('issue_type')}"
                      for i in found[:MAX_LISTED])
    more = f"; and {count - MAX_LISTED} more" if count > MAX_LISTED else ""
    return f"{head}: {named}{more}"


def at_or_above(rows: Sequence[Mapping[str, Any]], level: str,
                         confidence: str | None = None) -> list[Mapping[str, Any]]:
    """The rows (findings, or issues) at ``level`` or worse; with ``confidence``, only
    those their rule is at least that sure of (an issue has no confidence)."""
    bar = SEVERITY_RANK[level]
    sure = len(CONFIDENCE_RANK) if confidence is None else CONFIDENCE_RANK[confidence]
    return [row for row in rows
            if severity_rank(str(row.get("severity") or "")) <= bar
            and CONFIDENCE_RANK.get(str(row.get("confidence") or "").lower(),
                                    len(CONFIDENCE_RANK)) <= sure]


def finding_reason(found: Sequence[Mapping[str, Any]], level: str) -> str:
    """One line: how many findings, by severity, the first few by rule and place."""
    count = len(found)
    noun = "finding" if count == 1 else "findings"
    by_severity = ", ".join(f"{n} {s}" for s in SEVERITY_RANK
                            if (n := sum(1 for f in found if f.get("severity") == s)))
    named = "; ".join(f"{f.get('rule')} {f.get('path')}:{f.get('line')}"
                      for f in found[:MAX_LISTED])
    more = f"; and {count - MAX_LISTED} more" if count > MAX_LISTED else ""
    return f"{count} {noun} at severity {level} or above ({by_severity}): {named}{more}"


def gate(analysis: Mapping[str, Any], fail_under: float | None,
         fail_on: str | None, findings: Sequence[Mapping[str, Any]] = (),
         fail_on_confidence: str | None = None) -> tuple[bool, list[str]]:
    """(passed, reasons it failed); with neither gate set it always passes. ``findings``
    are the session's open findings (``fail_on`` counts them beside the issues)."""
    if fail_under is None and fail_on is None:
        return True, []
    if fail_on is not None and fail_on not in FAIL_ON_LEVELS:
        raise ValueError(f"--fail-on must be one of {', '.join(FAIL_ON_LEVELS)}, got {fail_on!r}")
    if fail_on_confidence is not None and fail_on_confidence not in FAIL_ON_CONFIDENCES:
        raise ValueError(f"--fail-on-confidence must be one of {', '.join(FAIL_ON_CONFIDENCES)}"
                         f", got {fail_on_confidence!r}")
    reasons: list[str] = []
    summary: Mapping[str, Any] = analysis.get("summary") or {}
    if not _number(summary.get("total_activities")):
        reasons.append("the session recorded no activities: nothing was shown to work")
    if fail_under is not None:
        session: Mapping[str, Any] = analysis.get("session") or {}
        score = _number(session.get("overall_score"))
        if score is None:
            score = _number((analysis.get("score") or {}).get("overall"))
        if score is None:
            reasons.append("the session has no quality score")
        elif score < fail_under:
            reasons.append(f"Quality score {score:.1f} below threshold ({fail_under:g})")
    if fail_on is not None:
        issues = [i for i in analysis.get("top_issues") or [] if isinstance(i, Mapping)]
        found = at_or_above(issues, fail_on)
        if found:
            reasons.append(_issue_reason(found, fail_on))
        flagged = at_or_above(findings, fail_on, fail_on_confidence)
        if flagged:
            reasons.append(finding_reason(flagged, fail_on))
    return not reasons, reasons
