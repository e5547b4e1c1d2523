"""Totals over scanned files as a pure fold: files, languages, lines, bytes, what went wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from analyzers.base import safe_text
from analyzers.common.filescan import FileScan, Skipped
from analyzers.workspace.languages import language_of

MAX_ERROR_SAMPLES = 5  # result_data stays small however broken the workspace is


@dataclass(frozen=True)
class LanguageTotals:
    files: int = 0
    lines: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Census:
    """``files`` are the regular files read (text and binary); ``missing`` are named paths
    that no longer exist (a deletion in a change batch is not an error); ``errors`` are
    files that exist but could not be read."""

    mode: str  # "full" or "changes"
    files: int
    text_files: int
    binary_files: int
    non_utf8_files: int
    huge_files: int
    lines: int
    bytes: int
    languages: Mapping[str, LanguageTotals]
    skipped: Mapping[str, int]
    missing: int
    errors: int
    error_samples: tuple[tuple[str, str], ...]

    @property
    def summary(self) -> str:
        return ", ".join((_count(self.files, "file"), _count(self.lines, "line"),
                          _count(len(self.languages), "language")))

    def to_data(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "files": self.files,
            "text_files": self.text_files,
            "binary_files": self.binary_files,
            "non_utf8_files": self.non_utf8_files,
            "huge_files": self.huge_files,
            "lines": self.lines,
            "bytes": self.bytes,
            "languages": {
                name: {"files": t.files, "lines": t.lines, "bytes": t.bytes}
                for name, t in self.languages.items()
            },
            "skipped": dict(self.skipped),
            "missing": self.missing,
            "errors": self.errors,
            "error_samples": [{"path": path, "error": error} for path, error in self.error_samples],
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def take_census(mode: str, scans: Iterable[tuple[str, FileScan | Skipped]],
                problems: Iterable[tuple[str, str]] = (), ignored: int = 0) -> Census:
    """Fold ``(path, scan)`` pairs; ``problems`` are errors met before any file was scanned
    (an unreadable directory during a walk)."""
    files = text = binary = non_utf8 = huge = lines = size = missing = 0
    languages: dict[str, LanguageTotals] = {}
    skipped: Counter[str] = Counter()
    errors: list[tuple[str, str]] = list(problems)
    for path, scan in scans:
        if isinstance(scan, Skipped):
            if scan.reason == "missing":
                missing += 1
            elif scan.reason == "error":
                errors.append((path, scan.detail))
            else:
                skipped[scan.reason] += 1
            continue
        files += 1
        size += scan.size
        huge += scan.huge
        if scan.binary:
            binary += 1
            continue
        text += 1
        non_utf8 += scan.utf8 is False
        file_lines = scan.lines or 0
        lines += file_lines
        language = language_of(path, scan.head)
        seen = languages.get(language, LanguageTotals())
        languages[language] = LanguageTotals(seen.files + 1, seen.lines + file_lines,
                                             seen.bytes + scan.size)
    if ignored:
        skipped["ignored"] += ignored
    return Census(
        mode=mode,
        files=files,
        text_files=text,
        binary_files=binary,
        non_utf8_files=non_utf8,
        huge_files=huge,
        lines=lines,
        bytes=size,
        languages=dict(sorted(languages.items(), key=lambda item: (-item[1].files, item[0]))),
        skipped=dict(sorted(skipped.items())),
        missing=missing,
        errors=len(errors),
        error_samples=tuple((safe_text(p), safe_text(e)) for p, e in errors[:MAX_ERROR_SAMPLES]),
    )
