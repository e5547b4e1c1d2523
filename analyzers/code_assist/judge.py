"""Whether jedi's answers were right, and the figures of a call: pure functions over answers.

* A **definition** is right when one of the places jedi went to is a definition the
  code index records for that name (same file, same line): the index (``ast``'s view of
  every module) and jedi (its own parser and inference) agree on where the name is
  defined. A name bound to a module (``from email import message``) is defined by that
  module's file: jedi going to a module the index holds is right (the index records
  files, not modules as symbols).
* **References** (asked in the file itself) are right when they hold the position they
  were asked from and every module-level definition of the name the index records in
  that file.
* A **completion** after a dot is right when jedi proposes the attribute the code
  really uses there.

Without an index (the indexer disabled, or not run yet) definitions and references
cannot be checked: they are timed but not judged (``None``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analyzers.code_assist.positions import COMPLETION, DEFINITION, KINDS, REFERENCES
from analyzers.code_assist.requests import Answer
from analyzers.code_index.pysymbols import PYTHON_SUFFIXES, module_name
from analyzers.common.percentiles import percentile


@dataclass(frozen=True)
class Defined:
    """A definition the code index records."""

    path: str
    line: int
    depth: int  # 0: module level


@dataclass(frozen=True)
class Truth:
    """What the index holds of one workspace, for the names a call asks about."""

    defined: Mapping[str, Collection[Defined]]  # name -> where the index says it is defined
    files: frozenset[str]  # every file the index holds
    modules: frozenset[str]  # their dotted module names, and every package above them

    @classmethod
    def of(cls, defined: Mapping[str, Collection[Defined]], files: Iterable[str]) -> Truth:
        held = frozenset(files)
        names = {module_name(p) for p in held if p.endswith(PYTHON_SUFFIXES)}
        # A package without __init__.py (a namespace package) is in the workspace too.
        packages = {n.rsplit(".", k)[0] for n in names for k in range(n.count(".") + 1)}
        return cls(defined, held, frozenset(packages))

    def in_workspace(self, module: str) -> bool:
        """Whether the dotted ``module`` is one of the workspace's."""
        return module in self.modules


@dataclass(frozen=True)
class Verdict:
    kind: str
    ms: float
    right: bool | None  # None: not judged


def judge(path: str, answer: Answer, truth: Truth | None) -> Verdict:
    position = answer.position
    kind = position.kind
    if kind == COMPLETION:
        return Verdict(kind, answer.ms, answer.contains)
    if truth is None:
        return Verdict(kind, answer.ms, None)
    defined = truth.defined.get(position.name, ())
    if kind == DEFINITION:
        recorded = {(d.path, d.line) for d in defined}
        right = any((p.path, p.line) in recorded
                    or (p.kind == "module" and p.path in truth.files) for p in answer.places)
        return Verdict(kind, answer.ms, right)
    if kind == REFERENCES:
        here = [p for p in answer.places if p.path == path]
        asked = any((p.line, p.column) == (position.line, position.column) for p in here)
        lines = {p.line for p in here}
        local = {d.line for d in defined if d.path == path and d.depth == 0}
        return Verdict(kind, answer.ms, asked and local <= lines)
    raise ValueError(f"unknown request kind {kind!r}")


def figures(verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """A call's ``result_data`` figures: requests, latencies, right answers per kind, and
    ``accuracy``, the fraction of all judged answers that were right (None: none judged)."""
    by_kind: dict[str, list[Verdict]] = {kind: [] for kind in KINDS}
    for verdict in verdicts:
        by_kind.setdefault(verdict.kind, []).append(verdict)
    judged = {kind: [v for v in vs if v.right is not None] for kind, vs in by_kind.items()}
    right = {kind: sum(1 for v in vs if v.right) for kind, vs in judged.items()}
    total_judged = sum(len(vs) for vs in judged.values())
    return {
        "requests": {kind: len(vs) for kind, vs in by_kind.items()},
        "latency_ms": {kind: _latency([v.ms for v in vs]) for kind, vs in by_kind.items()},
        "judged": {kind: len(vs) for kind, vs in judged.items()},
        "right": right,
        "agreement": {kind: _fraction(right[kind], len(vs)) for kind, vs in judged.items()},
        "accuracy": _fraction(sum(right.values()), total_judged),
    }


def _latency(times: Sequence[float]) -> dict[str, float | None]:
    if not times:  # no request of the kind: no latency, rather than a 0 ms one
        return {"p50": None, "p95": None}
    return {"p50": round(percentile(times, 50), 3), "p95": round(percentile(times, 95), 3)}


def _fraction(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
