"""The suggestion rules, in the spec's words (daemon.read.analysis.suggestions)."""

from __future__ import annotations

from daemon.read.analysis.model import SuggestionSpec
from daemon.read.analysis.suggestions import suggest

from sessionrows import act, run, spec_example_rows

# --- suggestions --------------------------------------------------------------


def test_spec_example_suggestions_in_the_specs_words() -> None:
    assert suggest(run(spec_example_rows())) == [
        SuggestionSpec("reliability", "high", "Fix error handling in security_scanner",
                       "Success rate is only 60.0%", "Could improve success rate to 95%+"),
        SuggestionSpec("performance", "medium",
                       "Optimize security_scanner - response time is too slow",
                       "Average response time is 2134ms",
                       "Could improve response time by 1067ms"),
    ]


def test_recurring_error_is_a_bug_fix() -> None:
    rows = [act("scan", 10.0, ok=i >= 3, error="KeyError: 'path'") for i in range(100)]
    made = suggest(run(rows))
    assert [(s.category, s.suggestion) for s in made] == [
        ("bug_fix", "Fix the recurring error in scan: KeyError: 'path'")]
    assert made[0].rationale == "The same error occurred 3 times in 100 calls"


def test_suggestion_priorities() -> None:
    def priority(success: int, calls: int = 100, ms: float = 10.0) -> list[str]:
        ok = calls * success // 100
        rows = [act("c", ms, ok=i < ok, error=f"e{i}") for i in range(calls)]
        return [s.priority for s in suggest(run(rows)) if s.category == "reliability"]

    assert priority(95) == []
    assert priority(94) == ["medium"]
    assert priority(80) == ["medium"]
    assert priority(79) == ["high"]
    assert priority(49) == ["critical"]
    slow = [s.priority for s in suggest(run([act("c", 5000.1)]))]
    assert slow == ["high"]
