"""What configuration hid, read from the security scanner's rows as stored."""

from __future__ import annotations

import json
from typing import Any

from daemon.read.analysis.configured_skips import ConfiguredSkip, configured_skips


def row(second: int, data: Any, capability: str = "security_scanner") -> dict[str, Any]:
    return {"timestamp": f"2026-02-03T12:00:{second:02d}+00:00", "capability": capability,
            "result_data": data if isinstance(data, str) or data is None else json.dumps(data)}


def skipped(*entries: tuple[str, int]) -> dict[str, Any]:
    return {"full_pass": True, "skipped_by_configuration": [
        {"rule": rule, "source": "default", "detail": "**/tests/**", "findings": n}
        for rule, n in entries]}


def test_the_latest_full_pass_decides() -> None:
    rows = [row(5, skipped(("B101", 3))), row(1, skipped(("B101", 9))),
            row(7, {"full_pass": False, "skipped_by_configuration": []}),
            row(8, skipped(("B101", 99)), capability="pattern_probe")]
    assert configured_skips(rows) == (ConfiguredSkip("B101", "default", "**/tests/**", 3),)


def test_a_full_pass_that_hid_nothing_says_nothing_was_hidden() -> None:
    assert configured_skips([row(1, skipped(("B101", 3))), row(2, skipped())]) == ()


def test_rows_without_the_data_or_with_bad_data_are_passed_over() -> None:
    rows = [row(1, skipped(("B101", 3))), row(2, None), row(3, "{not json"),
            row(4, {"files_scanned": 2}), row(5, "[1, 2]")]
    assert [s.findings for s in configured_skips(rows)] == [3]
    odd = skipped(("B101", 2))
    odd["skipped_by_configuration"] += [{"rule": "B102", "findings": "many"}, "x",
                                        {"rule": "B103", "findings": True},
                                        {"rule": "B104", "findings": 0}]
    assert configured_skips([row(1, odd)]) == (
        ConfiguredSkip("B101", "default", "**/tests/**", 2),)
    assert configured_skips([]) == ()
