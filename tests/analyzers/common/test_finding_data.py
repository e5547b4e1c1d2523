"""Findings as JSON data and back, as the result cache's rows hold them."""

from __future__ import annotations

import json

from analyzers.base import Finding
from analyzers.common.finding_data import (
    finding_from_data,
    finding_to_data,
    findings_from_data,
    strings_from_data,
)

FINDING = Finding("f" * 32, "hardcoded-password", "a.py", 3, "high", "medium",
                  "Password in the source", "Pa…(13 chars)")


def test_findings_as_data_refuse_what_is_not_one() -> None:
    assert finding_from_data(finding_to_data(FINDING)) == FINDING
    assert finding_from_data(["too", "short"]) is None
    assert finding_from_data([*finding_to_data(FINDING)[:3], "3", *finding_to_data(FINDING)[4:]]
                             ) is None
    assert findings_from_data([finding_to_data(FINDING), {"x": 1}]) is None


def test_rows_written_earlier_are_read() -> None:
    row = ["f" * 32, "hardcoded-password", "a.py", 3, "high", "medium", "Password in the source",
           "Pa…(13 chars)"]
    assert finding_to_data(FINDING) == row
    assert findings_from_data(json.loads(json.dumps([row]))) == (FINDING,)


def test_fingerprint_sets_refuse_what_is_not_a_list_of_strings() -> None:
    assert strings_from_data(["a", "b", "a"]) == frozenset({"a", "b"})
    assert strings_from_data(["a", 1]) is None
    assert strings_from_data("ab") is None
