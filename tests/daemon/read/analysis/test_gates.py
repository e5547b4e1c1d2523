"""Gates for ``realworld run --fail-under SCORE --fail-on LEVEL``: the spec's CI rules."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.common import Parser as _Parser
from daemon.cli.common import UsageError
from daemon.read.analysis.gates import FAIL_ON_LEVELS, gate, parse_score
from daemon.read.reporting import analysis_dict

from logbuilders import SPEC_SESSION, spec_session_log


def analysis(score: float = 85.0, severities: tuple[str, ...] = (),
             activities: int = 10) -> dict[str, Any]:
    return {
        "session": {"session_id": "s", "overall_score": score},
        "summary": {"total_activities": activities},
        "top_issues": [{"severity": s, "capability": f"cap{i}", "issue_type": "t",
                        "description": f"problem {i}"} for i, s in enumerate(severities)],
    }


def spec_ci_verdict(data: dict[str, Any]) -> int:
    """The spec's "Integration with CI/CD" decision, transcribed from its example."""
    score = data["session"]["overall_score"]
    if score < 70:
        return 1
    critical_issues = sum(1 for issue in data["top_issues"] if issue["severity"] == "critical")
    if critical_issues > 0:
        return 1
    return 0


def test_no_gate_always_passes() -> None:
    assert gate(analysis(score=0.0, severities=("critical",), activities=0), None, None) == \
        (True, [])


@pytest.mark.parametrize(("score", "passed"), [(70.0, True), (69.9, False), (100.0, True),
                                               (0.0, False)])
def test_fail_under_is_strictly_below(score: float, passed: bool) -> None:
    ok, reasons = gate(analysis(score=score), 70.0, None)
    assert ok is passed
    if not passed:
        assert reasons == [f"Quality score {score:.1f} below threshold (70)"]


def test_fail_on_critical_counts_only_critical() -> None:
    assert gate(analysis(severities=("high", "medium")), None, "critical") == (True, [])
    ok, [reason] = gate(analysis(severities=("high", "critical", "critical")), None, "critical")
    assert not ok
    assert reason.startswith("2 critical issues found: cap1: problem 1; cap2: problem 2")


def test_fail_on_high_counts_high_and_critical() -> None:
    ok, [reason] = gate(analysis(severities=("low", "high", "critical", "medium")), None, "high")
    assert not ok
    assert reason.startswith("2 issues at severity high or above found (1 critical, 1 high)")
    assert gate(analysis(severities=("medium", "low")), None, "high")[0]
    assert not gate(analysis(severities=("low",)), None, "low")[0]


def test_long_lists_are_cut_in_the_reason() -> None:
    _, [reason] = gate(analysis(severities=("critical",) * 5), None, "critical")
    assert reason.endswith("; and 2 more") and "\n" not in reason


def test_both_gates_give_both_reasons() -> None:
    ok, reasons = gate(analysis(score=50.0, severities=("critical",)), 70.0, "critical")
    assert not ok and len(reasons) == 2


def test_an_idle_session_fails_any_gate() -> None:
    ok, reasons = gate(analysis(score=100.0, activities=0), None, "critical")
    assert not ok and reasons == ["the session recorded no activities: nothing was shown to work"]
    assert gate(analysis(score=100.0, activities=0), None, None)[0]


def test_score_read_from_the_score_block_when_the_session_has_none() -> None:
    data = analysis()
    data["session"] = {}
    data["score"] = {"overall": 40.0}
    assert gate(data, 70.0, None) == (False, ["Quality score 40.0 below threshold (70)"])
    data["score"] = {}
    assert gate(data, 70.0, None) == (False, ["the session has no quality score"])


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="--fail-on"):
        gate(analysis(), None, "catastrophic")


@pytest.mark.parametrize("data", [
    analysis(score=85.0), analysis(score=69.0), analysis(score=70.0),
    analysis(score=90.0, severities=("critical",)), analysis(score=90.0, severities=("high",)),
])
def test_agrees_with_the_specs_ci_example(data: dict[str, Any]) -> None:
    ok, _ = gate(data, 70.0, "critical")
    assert (0 if ok else 1) == spec_ci_verdict(data)


def test_a_real_session(tmp_path: Path) -> None:
    db = spec_session_log(tmp_path / "log.db")
    data = analysis_dict(db, SPEC_SESSION)
    ok, reasons = gate(data, 70.0, "critical")
    assert not ok and (0 if ok else 1) == spec_ci_verdict(data)
    assert reasons[0].startswith(f"Quality score {data['session']['overall_score']:.1f} below")


def _run_parser() -> argparse.ArgumentParser:
    # The argparse lines the run command adds, as handed to the lead.
    parser = _Parser(prog="realworld run")
    parser.add_argument("--fail-under", type=parse_score, metavar="SCORE", default=None,
                        help="exit 1 when the overall score (0-100) is below SCORE")
    parser.add_argument("--fail-on", choices=FAIL_ON_LEVELS, default=None,
                        help="exit 1 when an issue of this severity or worse is open")
    return parser


def test_argparse_lines() -> None:
    args = _run_parser().parse_args(["--fail-under", "70", "--fail-on", "critical"])
    assert (args.fail_under, args.fail_on) == (70.0, "critical")
    assert _run_parser().parse_args([]).fail_under is None
    for bad in (["--fail-under", "x"], ["--fail-under", "101"], ["--fail-under", "nan"],
                ["--fail-on", "severe"]):
        with pytest.raises(UsageError) as info:
            _run_parser().parse_args(bad)
        assert "\n" not in str(info.value)


def test_parse_score() -> None:
    assert parse_score("0") == 0.0 and parse_score("99.5") == 99.5
    with pytest.raises(argparse.ArgumentTypeError, match="score from 0 to 100"):
        parse_score("-1")


def finding(severity: str, confidence: str = "high", rule: str = "B602",
            line: int = 1) -> dict[str, Any]:
    return {"severity": severity, "confidence": confidence, "rule": rule,
            "path": "pkg/app.py", "line": line, "capability": "security_scanner"}


def test_fail_on_counts_open_findings_beside_issues() -> None:
    ok, [reason] = gate(analysis(), None, "high",
                        [finding("high"), finding("low", line=2), finding("critical", line=3)])
    assert not ok
    assert reason == ("2 findings at severity high or above (1 critical, 1 high): "
                      "B602 pkg/app.py:1; B602 pkg/app.py:3")
    assert gate(analysis(), None, "critical", [finding("high")]) == (True, [])


def test_fail_on_confidence_counts_only_findings_rules_are_sure_of() -> None:
    unsure = [finding("high", confidence="low"), finding("high", confidence="medium", line=2)]
    assert not gate(analysis(), None, "high", unsure)[0]  # default: any confidence
    ok, [reason] = gate(analysis(), None, "high", unsure, "medium")
    assert not ok and reason.startswith("1 finding at severity high or above (1 high)")
    assert gate(analysis(), None, "high", unsure, "high") == (True, [])
    with pytest.raises(ValueError, match="--fail-on-confidence"):
        gate(analysis(), None, "high", unsure, "certain")
