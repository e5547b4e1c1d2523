"""Measuring one Python file: its complexity numbers and the risky shapes it holds.

A pure function of the file's text, so it runs the same in the probe's thread and in
a worker process (:mod:`analyzers.common.workerpool`). In a worker it reads the file
itself, like the scanner's workers, and reports the digest of the bytes it measured:
the probe never holds a batch's contents at once, and a file that takes radon past the
per-file bound costs its worker, not the probe's thread (which cannot be stopped).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from analyzers.base import Finding
from analyzers.common.pyparse import parse_python
from analyzers.common.sourcefile import Skip, decode_text, read_source
from analyzers.patterns.complexity import ComplexityThresholds, measure_complexity
from analyzers.patterns.matcher import Detection, detect, detect_text


@dataclass(frozen=True)
class Measured:
    """The complexity side of one version of one file, kept to skip radon when unchanged."""

    digest: str
    findings: tuple[Finding, ...]
    functions: int
    max_complexity: int
    maintainability: float | None
    note: str  # why complexity is missing, or ""


@dataclass(frozen=True)
class FileMeasurement:
    measured: Measured
    detection: Detection
    parsed: bool  # False: the text does not parse (the last numbers may stand for it)


@dataclass(frozen=True)
class MeasureTask:
    path: str  # relative, "/"-separated: part of every fingerprint
    location: str  # where it is on disk
    max_bytes: int
    digest: str  # of the bytes the probe saw: a failure is remembered against them


def measure_text(text: str, path: str, digest: str,
                 thresholds: ComplexityThresholds) -> FileMeasurement:
    """What the probe keeps of one version of a file; failures stay in the result."""
    tree, note = _parse(text)
    return FileMeasurement(_measure(text, path, digest, tree, note, thresholds),
                           _detect(tree, text, path), tree is not None)


class FileMeasurer:
    """A worker's handler: read the file, then :func:`measure_text`."""

    def __init__(self, thresholds: ComplexityThresholds) -> None:
        self._thresholds = thresholds

    def __call__(self, task: MeasureTask) -> FileMeasurement | Skip:
        source = read_source(task.location, task.max_bytes)
        if isinstance(source, Skip):  # changed since the probe looked: say what it is now
            return source
        text, _ = decode_text(source.data, python=True)
        return measure_text(text, task.path, source.content_hash, self._thresholds)


def make_file_measurer(thresholds: ComplexityThresholds
                       ) -> Callable[[MeasureTask], FileMeasurement | Skip]:
    """The worker pool's initializer: importable at module level, so picklable."""
    return FileMeasurer(thresholds)


def _parse(text: str) -> tuple[ast.Module | None, str]:
    try:
        return parse_python(text), ""
    except RecursionError:
        return None, "too deeply nested"
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return None, "does not parse"
    except MemoryError:
        return None, "too large to parse"


def _measure(text: str, path: str, digest: str, tree: ast.Module | None, note: str,
             thresholds: ComplexityThresholds) -> Measured:
    if tree is None:
        return Measured(digest, (), 0, 0, None, note)
    try:
        report = measure_complexity(text, path, thresholds, tree)
    except RecursionError:
        return Measured(digest, (), 0, 0, None, "too deeply nested")
    except Exception as exc:  # radon on odd input: this file loses its numbers, no more
        return Measured(digest, (), 0, 0, None, f"complexity failed: {type(exc).__name__}")
    return Measured(digest, report.findings, len(report.functions), report.max_complexity,
                    report.maintainability, "")


def _detect(tree: ast.Module | None, text: str, path: str) -> Detection:
    if tree is not None:
        try:
            return detect(tree, path)
        except (RecursionError, MemoryError):
            pass  # the text fallback below still finds shapes, line by line
    return detect_text(text)
