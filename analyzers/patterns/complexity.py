"""Cyclomatic complexity per function and the maintainability index per module (radon).

Pure over source text: :func:`measure_complexity` takes the text (and, when the
caller has parsed it already, the tree) and returns the numbers and the findings
above the thresholds. Nothing here reads files or keeps state.

The numbers are radon's: complexity from ``radon.visitors.ComplexityVisitor`` (what
``radon.complexity.cc_visit`` runs) and the index from ``radon.metrics.mi_compute``
over the parameters ``radon.metrics.mi_visit`` uses. Two deliberate departures:

* The tree is parsed once and shared by the complexity, Halstead and mistake
  visitors, instead of once per radon entry point.
* The raw line counts (LLOC, SLOC, comments, docstring lines) come from one pass of
  ``tokenize`` here instead of ``radon.raw.analyze``, which re-tokenizes a growing
  buffer for every line of a multi-line statement: quadratic, measured at 1.8 s for
  the 15 kB ``encodings/aliases.py`` and over 5 s for the 37 kB
  ``_sysconfigdata`` dict of the standard library. :func:`raw_counts` follows
  radon's rules, so the index matches ``mi_visit`` (tests compare them).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# radon ships no type information (no py.typed, no stubs): its names are Any here.
from radon.complexity import cc_rank  # type: ignore[import-untyped]
from radon.metrics import h_visit_ast, mi_compute, mi_rank  # type: ignore[import-untyped]
from radon.visitors import Class, ComplexityVisitor, Function  # type: ignore[import-untyped]

from analyzers.base import Finding
from analyzers.common.pyparse import parse_python
from analyzers.patterns.fingerprint import finding_fingerprint

COMPLEXITY_RULE = "complexity"
MAINTAINABILITY_RULE = "maintainability"


@dataclass(frozen=True)
class ComplexityThresholds:
    """Above ``medium_above`` a function is a medium finding, above ``high_above`` a high one;
    a module whose maintainability index is below ``low_mi_below`` is a low one."""

    medium_above: int = 10
    high_above: int = 20
    low_mi_below: float = 20.0

    def __post_init__(self) -> None:
        if self.medium_above < 1 or self.high_above < self.medium_above:
            raise ValueError("complexity thresholds need 1 <= medium_above <= high_above")
        if not 0.0 <= self.low_mi_below <= 100.0:
            raise ValueError("the maintainability threshold is an index from 0 to 100")


@dataclass(frozen=True)
class FunctionComplexity:
    qualname: str  # Outer.method.inner: classes, methods and closures joined by dots
    line: int
    end_line: int
    complexity: int

    @property
    def rank(self) -> str:
        return str(cc_rank(self.complexity))


@dataclass(frozen=True)
class RawCounts:
    """radon's raw metrics, the ones the maintainability index uses."""

    lloc: int
    sloc: int
    comments: int
    multi: int


@dataclass(frozen=True)
class ComplexityReport:
    functions: tuple[FunctionComplexity, ...]
    maintainability: float | None  # None when the text could not be tokenized
    findings: tuple[Finding, ...]

    @property
    def max_complexity(self) -> int:
        return max((f.complexity for f in self.functions), default=0)


def measure_complexity(source: str, path: str,
                       thresholds: ComplexityThresholds = ComplexityThresholds(),
                       tree: ast.Module | None = None) -> ComplexityReport:
    """The report for one module; raises ``SyntaxError``/``ValueError`` for text that does
    not parse and ``RecursionError`` for a tree too deep for radon's recursive visitors
    (the caller confines both to the file)."""
    module = parse_python(source) if tree is None else tree
    visitor = ComplexityVisitor.from_ast(module)
    functions = tuple(_flatten(visitor))
    maintainability = _maintainability(source, module, visitor.total_complexity)
    findings = [f for f in (_function_finding(path, fn, ordinal, thresholds)
                            for fn, ordinal in _with_ordinals(functions)) if f is not None]
    if maintainability is not None and maintainability < thresholds.low_mi_below:
        findings.append(Finding(
            fingerprint=finding_fingerprint(MAINTAINABILITY_RULE, path, "<module>"),
            rule=MAINTAINABILITY_RULE, path=path, line=1, severity="low", confidence="high",
            message=(f"maintainability index {maintainability:.1f} (rank "
                     f"{mi_rank(maintainability)}; below {thresholds.low_mi_below:g})")))
    return ComplexityReport(functions, maintainability, tuple(findings))


def _function_finding(path: str, fn: FunctionComplexity, ordinal: int,
                      thresholds: ComplexityThresholds) -> Finding | None:
    if fn.complexity > thresholds.high_above:
        severity, bar = "high", thresholds.high_above
    elif fn.complexity > thresholds.medium_above:
        severity, bar = "medium", thresholds.medium_above
    else:
        return None
    return Finding(
        fingerprint=finding_fingerprint(COMPLEXITY_RULE, path, fn.qualname, ordinal),
        rule=COMPLEXITY_RULE, path=path, line=fn.line, severity=severity, confidence="high",
        message=(f"{fn.qualname} has cyclomatic complexity {fn.complexity} "
                 f"(rank {fn.rank}; above {bar})"))


def _with_ordinals(functions: Sequence[FunctionComplexity]
                   ) -> Iterator[tuple[FunctionComplexity, int]]:
    seen: dict[str, int] = {}
    for fn in sorted(functions, key=lambda f: (f.line, f.qualname)):
        ordinal = seen.get(fn.qualname, 0)
        seen[fn.qualname] = ordinal + 1
        yield fn, ordinal


def _flatten(visitor: ComplexityVisitor) -> Iterator[FunctionComplexity]:
    """Every function radon measured, closures and methods of nested classes included
    (``blocks`` stops at the first level)."""
    stack: list[tuple[str, Function | Class]] = [("", block) for block in visitor.functions]
    stack += [("", cls) for cls in visitor.classes]
    while stack:
        prefix, block = stack.pop()
        qualname = f"{prefix}{block.name}"
        if isinstance(block, Class):
            stack += [(f"{qualname}.", method) for method in block.methods]
            stack += [(f"{qualname}.", inner) for inner in block.inner_classes]
            continue
        yield FunctionComplexity(qualname, int(block.lineno), int(block.endline),
                                 int(block.complexity))
        stack += [(f"{qualname}.", closure) for closure in block.closures]


def _maintainability(source: str, module: ast.Module, total_complexity: int) -> float | None:
    counts = raw_counts(source)
    if counts is None:
        return None
    # As radon.metrics.mi_parameters with count_multi=True (mi_visit(code, True)).
    comment_lines = counts.comments + counts.multi
    comments = comment_lines / float(counts.sloc) * 100 if counts.sloc else 0.0
    volume = h_visit_ast(module).total.volume
    return float(mi_compute(volume, total_complexity, counts.lloc, comments))


_SKIP = frozenset({tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING})
_ENDS = frozenset({tokenize.NL, tokenize.NEWLINE})


def raw_counts(source: str) -> RawCounts | None:
    """radon.raw.analyze's lloc, sloc, comments and multi in one linear pass; None when the
    text does not tokenize."""
    lines = source.splitlines()
    lloc = sloc = comments = multi = 0
    try:
        for unit in _units(source):
            first, last = unit[0].start[0], unit[-1].end[0]
            span = [lines[i - 1].strip() if 0 < i <= len(lines) else "" for i in
                    range(first, last + 1)]
            comments += sum(1 for t in unit if t.type == tokenize.COMMENT)
            meaningful = [t for t in unit if t.type not in _ENDS]
            if len(meaningful) == 1 and meaningful[0].type == tokenize.COMMENT:
                pass  # a comment line: counted in comments only
            elif len(meaningful) == 1 and meaningful[0].type == tokenize.STRING:
                if meaningful[0].start[0] != meaningful[0].end[0]:
                    multi += sum(1 for line in span if line)
            else:
                sloc += sum(1 for line in span if line)
            lloc += _logical(unit)
    except (tokenize.TokenError, SyntaxError, IndexError):
        return None
    return RawCounts(lloc=lloc, sloc=sloc, comments=comments, multi=multi)


def _units(source: str) -> Iterator[list[tokenize.TokenInfo]]:
    """The token groups radon analyses one at a time: a logical line (up to NEWLINE), or
    a blank or comment-only line (an NL outside brackets)."""
    unit: list[tokenize.TokenInfo] = []
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _SKIP:
            continue
        unit.append(token)
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth = max(0, depth - 1)
        if token.type == tokenize.NEWLINE or (token.type == tokenize.NL and depth == 0):
            yield unit
            unit = []
    if unit:
        yield unit


def _logical(unit: Sequence[tokenize.TokenInfo]) -> int:
    """radon.raw._logical: per ';'-separated part, 2 when a colon is followed by more code
    (``if x: return``), 1 otherwise, 0 for a part with nothing but comments."""
    parts: list[list[tokenize.TokenInfo]] = [[]]
    for token in unit:
        if token.type == tokenize.OP and token.string == ";":
            parts.append([])
        elif token.type not in _ENDS and token.type != tokenize.COMMENT:
            parts[-1].append(token)
    total = 0
    for index, part in enumerate(parts):
        colons = [i for i, t in enumerate(part) if t.type == tokenize.OP and t.string == ":"]
        if colons:
            # radon tests "the last colon is the token before the last", counting the
            # ENDMARKER it sees after the last part only: kept as it is, quirks and all,
            # so the index stays radon's.
            last = len(part) - 1 if index == len(parts) - 1 else len(part) - 2
            total += 1 if colons[-1] == last else 2
        elif part:
            total += 1
    return total
