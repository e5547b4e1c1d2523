"""The census as a pure fold over scans: totals, languages, and what went wrong."""

from __future__ import annotations

from analyzers.common.filescan import FileScan, Skipped
from analyzers.workspace.census import MAX_ERROR_SAMPLES, LanguageTotals, take_census


def text(size: int, lines: int, utf8: bool = True, head: bytes = b"") -> FileScan:
    return FileScan(size=size, binary=False, lines=lines, utf8=utf8, huge=False, head=head)


def test_totals_by_language_most_files_first() -> None:
    census = take_census("full", [
        ("a.py", text(10, 2)),
        ("b.py", text(5, 1, utf8=False)),
        ("bin/tool", text(7, 1, head=b"#!/bin/sh\n")),
        ("logo.png", FileScan(size=16, binary=True, lines=None, utf8=None, huge=False, head=b"")),
    ])
    assert (census.files, census.text_files, census.binary_files) == (4, 3, 1)
    assert (census.lines, census.bytes, census.non_utf8_files) == (4, 38, 1)
    assert census.languages == {"Python": LanguageTotals(2, 3, 15),
                                "Shell": LanguageTotals(1, 1, 7)}
    assert census.summary == "4 files, 4 lines, 2 languages"


def test_missing_is_not_an_error_and_errors_are_sampled() -> None:
    scans = [("gone.py", Skipped("missing")), ("link", Skipped("symlink"))]
    scans += [(f"bad{i}", Skipped("error", "PermissionError")) for i in range(30)]
    census = take_census("changes", scans, problems=[("dir", "unreadable")], ignored=2)
    assert census.missing == 1 and census.errors == 31
    assert census.skipped == {"ignored": 2, "symlink": 1}
    assert len(census.error_samples) == MAX_ERROR_SAMPLES
    assert census.error_samples[0] == ("dir", "unreadable")
    assert census.to_data()["error_samples"][1] == {"path": "bad0", "error": "PermissionError"}
