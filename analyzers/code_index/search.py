"""Code search over the index, and ``code_search``: a probe that measures it on real symbols.

:func:`search` ranks in tiers, best first (``Hit.score`` says which):

====  ===========================================================================
4.0   a definition whose name is the text (symbol table; ``Class.method`` works)
3.5   a definition whose name is the text in another case
3.0   a line where the text is a whole identifier, in the same case
2.5   a line where it is a whole identifier in another case
2.0   a line where it is part of a longer identifier, in the same case
1.5   the same in another case
====  ===========================================================================

Among definitions, classes come before functions, functions before methods and
methods before variables and attributes, module level before nested (fractions
of a point off the tier's score). Within a tier of line hits, hits come in index
order: files in the order they were first indexed (a cold pass indexes in path
order), lines in order. That order lets a search stop reading candidates as soon
as the best tier holds enough hits, which is what keeps common words fast.

Substrings of 3 or more characters are looked up through the trigram index;
shorter ones scan the lines (``LIKE``). Regexes are narrowed by the literals every
match must contain (:mod:`analyzers.code_index.regex_literals`) and confirmed with ``re``
line by line; a regex that requires no literal scans every line. Lines are stored
cut at 2,000 characters, so no single line costs more than that, and text beyond
that point is not found; blank lines are not stored, so they are never hits.
Matching is case-insensitive for plain text (case only ranks) and as written for
regexes.

``--symbol`` searches only the symbol table: exact names first, then names that
start with, then names that contain the text (a regex: full matches, then
partial ones).
"""

from __future__ import annotations

import fnmatch
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.base import AnalysisResult
from analyzers.code_index.pysymbols import CLASS, FUNCTION_KINDS, KIND_RANK
from analyzers.code_index.regex_literals import fts_query, literal_requirement, requirement
from analyzers.code_index.store import (
    IndexStore,
    IndexUnavailable,
    SymbolRow,
    split_rowid,
)
from analyzers.common.locations import choose_index_path
from analyzers.common.percentiles import percentile
from analyzers.common.walk import IgnoreRule, default_ignore

DEFAULT_LIMIT = 20
#: Candidate lines read at most per search: bounds a regex with no literal on a huge index.
DEFAULT_MAX_SCAN = 1_000_000

DEFINITION, DEFINITION_OTHER_CASE = 4.0, 3.5
WORD, WORD_OTHER_CASE = 3.0, 2.5
PART, PART_OTHER_CASE = 2.0, 1.5
SYMBOL_PREFIX, SYMBOL_PART = 3.0, 2.5  # --symbol only
IDENTIFIER, SUBSTRING = "identifier", "substring"  # Hit.kind of line hits


class BadQuery(ValueError):
    """The search text cannot be searched for (empty, or a regex ``re`` rejects)."""


@dataclass(frozen=True)
class Hit:
    path: str  # relative to its workspace, '/'-separated
    line: int  # 1-based
    col: int  # 1-based, in characters
    text: str  # the line (as stored: at most 2,000 characters)
    kind: str  # a symbol kind for definitions, else "identifier" or "substring"
    score: float  # the tier (see the module docstring); higher is better
    workspace: str = ""  # the workspace root the path is relative to

    @property
    def is_definition(self) -> bool:
        return self.kind in KIND_RANK


def search(index: IndexStore, text: str, *, regex: bool = False, symbol: bool = False,
           path_glob: str | None = None, limit: int = DEFAULT_LIMIT,
           workspace: str | None = None, max_scan: int = DEFAULT_MAX_SCAN) -> list[Hit]:
    """Ranked hits for ``text``; ``workspace`` (a root path) keeps hits of that one."""
    if not text:
        raise BadQuery("the search text is empty")
    if limit < 1:
        raise BadQuery("the limit must be at least 1")
    try:
        pattern = re.compile(text) if regex else re.compile(re.escape(text), re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as exc:
        raise BadQuery(f"bad regex: {exc}") from None
    scope = _Scope(index, path_glob, workspace)
    if scope.empty:
        return []
    definitions = _definitions(index, text, pattern, regex=regex, symbol=symbol, scope=scope,
                               limit=limit)
    if symbol or len(definitions) >= limit:
        return definitions
    taken = {(d.workspace, d.path, d.line) for d in definitions}
    lines = _line_hits(index, text, pattern, regex=regex, scope=scope,
                       wanted=limit - len(definitions), taken=taken, max_scan=max_scan)
    return (definitions + lines)[:limit]


# --- scope: which files a search may report -------------------------------------------


class _Scope:
    def __init__(self, index: IndexStore, path_glob: str | None, workspace: str | None) -> None:
        self._index = index
        self._glob = path_glob
        self.roots = index.workspaces()
        self.workspace_id: int | None = None
        self.empty = False
        if workspace is not None:
            real = os.path.realpath(workspace)
            ids = [i for i, root in self.roots.items() if root == real]
            self.workspace_id = ids[0] if ids else None
            self.empty = not ids
        self._verdicts: dict[int, tuple[str, str] | None] = {}

    def file(self, file_id: int) -> tuple[str, str] | None:
        """(workspace root, path) of a file the search may report, else ``None``."""
        if file_id in self._verdicts:
            return self._verdicts[file_id]
        info = self._index.file_info(file_id)
        verdict = None
        if info is not None and self.accepts(info.workspace_id, info.path):
            verdict = (self.roots.get(info.workspace_id, ""), info.path)
        self._verdicts[file_id] = verdict
        return verdict

    def accepts(self, workspace_id: int, path: str) -> bool:
        if self.workspace_id is not None and workspace_id != self.workspace_id:
            return False
        return self._glob is None or glob_matches(path, self._glob)


def glob_matches(path: str, glob: str) -> bool:
    """Shell-style; ``*`` crosses ``/``. A glob without ``/`` also matches the file name
    alone, so ``*.py`` and ``test_*.py`` work at any depth."""
    if fnmatch.fnmatchcase(path, glob):
        return True
    return "/" not in glob and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], glob)


# --- definitions --------------------------------------------------------------------


def _definitions(index: IndexStore, text: str, pattern: re.Pattern[str], *, regex: bool,
                 symbol: bool, scope: _Scope, limit: int) -> list[Hit]:
    scored: list[tuple[float, SymbolRow]] = []
    if regex:
        names = list(index.symbol_names())
        full = {n for n in names if pattern.fullmatch(n)}
        partial = ({n for n in names if n not in full and pattern.search(n)}
                   if symbol else set())
        for row in index.symbols_named(full | partial):
            if row.name in full:
                scored.append((DEFINITION, row))
            elif row.name in partial:
                scored.append((SYMBOL_PART, row))
    else:
        qualified = text if "." in text.strip(".") else None
        name = text.rsplit(".", 1)[-1] if qualified else text
        rows = index.symbols_containing(name) if symbol else index.symbols_named([name])
        for row in rows:
            if qualified and not _qualifies(row.qualname, qualified):
                continue
            if row.name == name:
                tier = DEFINITION
            elif row.name.lower() == name.lower():
                tier = DEFINITION_OTHER_CASE
            elif row.name.lower().startswith(name.lower()):
                tier = SYMBOL_PREFIX
            else:
                tier = SYMBOL_PART
            scored.append((tier, row))
    # Rank first, then look up files and lines only for the hits that will be shown:
    # ``--symbol e`` can match most of the table.
    ranked = sorted(((round(tier - 0.01 * KIND_RANK.get(row.kind, 5)
                            - 0.001 * min(row.depth, 9), 3), row) for tier, row in scored),
                    key=lambda pair: (-pair[0], pair[1].file_id, pair[1].line, pair[1].col))
    hits: list[Hit] = []
    for score, row in ranked:
        where = scope.file(row.file_id)
        if where is None:
            continue
        hits.append(Hit(path=where[1], line=row.line, col=row.col,
                        text=index.line_text(row.file_id, row.line) or "", kind=row.kind,
                        score=score, workspace=where[0]))
        if len(hits) >= limit:
            break
    return hits


def _qualifies(qualname: str, qualified: str) -> bool:
    """``Class.method`` names ``pkg.mod.Class.method``; case as the name is ranked."""
    lowered, wanted = qualname.lower(), qualified.lower()
    return lowered == wanted or lowered.endswith("." + wanted)


# --- lines --------------------------------------------------------------------------


def _line_hits(index: IndexStore, text: str, pattern: re.Pattern[str], *, regex: bool,
               scope: _Scope, wanted: int, taken: set[tuple[str, str, int]],
               max_scan: int) -> list[Hit]:
    grade = _grader(pattern, text, regex)
    # Per tier, the first ``wanted`` hits in index order are all that can ever be shown;
    # keeping no more bounds memory on a query that matches half the lines.
    tiers: dict[float, list[Hit]] = {}
    for scanned, (rowid, line_text) in enumerate(_candidates(index, text, regex)):
        if scanned >= max_scan:
            break
        graded = grade(line_text)
        if graded is None:
            continue  # the index narrows; only re decides
        tier, col = graded
        kept = tiers.setdefault(tier, [])
        if len(kept) >= wanted:
            continue
        file_id, line = split_rowid(rowid)
        where = scope.file(file_id)
        if where is None or (where[0], where[1], line) in taken:
            continue
        kind = IDENTIFIER if tier >= WORD_OTHER_CASE else SUBSTRING
        kept.append(Hit(path=where[1], line=line, col=col, text=line_text, kind=kind,
                        score=tier, workspace=where[0]))
        if tier == WORD and len(kept) >= wanted:
            break  # later hits of the best tier come after these; lower tiers after all
    ordered = [hit for tier in sorted(tiers, reverse=True) for hit in tiers[tier]]
    return ordered[:wanted]


def _candidates(index: IndexStore, text: str, regex: bool) -> Iterator[tuple[int, str]]:
    need = requirement(text) if regex else literal_requirement(text)
    if need is not None:
        return index.lines_matching(fts_query(need))
    if not regex:
        return index.lines_like(text)  # too short for a trigram
    return index.all_lines()


Grader = Callable[[str], "tuple[float, int] | None"]


def _grader(pattern: re.Pattern[str], text: str, regex: bool) -> Grader:
    """A function giving the best tier any match on a line reaches, and its column.

    Most candidate lines of a common substring hold it inside longer identifiers;
    for plain text one extra C-level search for the text as a whole word settles
    those without a Python loop over every occurrence.
    """
    word = None if regex else re.compile(
        rf"(?<![\w]){re.escape(text)}(?![\w])" if _is_word(text[0]) and _is_word(text[-1])
        else re.escape(text), re.IGNORECASE)

    def grade(line: str) -> tuple[float, int] | None:
        if word is not None:
            whole = word.search(line)
            if whole is None:
                first = pattern.search(line)
                if first is None:
                    return None
                if not _whole_identifier(line, *first.span()):
                    return (PART if first.group() == text else PART_OTHER_CASE,
                            first.start() + 1)
        best: tuple[float, int] | None = None
        for match in pattern.finditer(line):
            start, end = match.span()
            whole_match = _whole_identifier(line, start, end)
            same_case = regex or match.group() == text
            if whole_match:
                tier = WORD if same_case else WORD_OTHER_CASE
            else:
                tier = PART if same_case else PART_OTHER_CASE
            if best is None or tier > best[0]:
                best = (tier, start + 1)
                if tier == WORD:
                    break
        return best

    return grade


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _whole_identifier(line: str, start: int, end: int) -> bool:
    """No identifier character continues the match on a side where it ends in one."""
    if start == end:
        return False
    if _is_word(line[start]) and start > 0 and _is_word(line[start - 1]):
        return False
    return not (_is_word(line[end - 1]) and end < len(line) and _is_word(line[end]))


# --- the probe ----------------------------------------------------------------------


DEFAULT_QUERIES = 10
#: Names whose definition is ambiguous by nature (every class has an ``__init__``):
#: sampling them would measure nothing but the tie-break.
_SAMPLE_KINDS: tuple[str, ...] = (CLASS, *sorted(FUNCTION_KINDS))


@dataclass(frozen=True)
class ProbeQuery:
    query: str
    kind: str
    path: str
    line: int
    rank: int | None  # where the sampled definition itself came; None: not in the hits
    definition_rank: int | None  # where the first definition of that name came
    hits: int
    ms: float


class CodeSearch:
    """Searches for real symbols taken from the index and records how search did.

    Each call samples up to ``queries`` classes and functions of the workspace (a
    seeded generator: the sequence of samples repeats from run to run), searches
    each by name and records the latency and the rank of that very definition.
    ``rank`` is strict: a name defined in five places can put the sampled one
    fifth; ``definition_rank`` is where the first definition of the name came.
    """

    name = "code_search"
    activity_type = "search"
    runs_after_others = True  # the runner calls it once the indexer's call of a batch is done

    def __init__(self, *, index_path: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 queries: int = DEFAULT_QUERIES, seed: int = 0, limit: int = DEFAULT_LIMIT,
                 ignore: IgnoreRule = default_ignore,
                 env: Mapping[str, str] | None = None) -> None:
        if queries < 1:
            raise ValueError("queries must be at least 1")
        self._index_path = index_path
        self._log_path = log_path
        self._queries = queries
        self._limit = limit
        self._ignore = ignore
        self._env = env
        self._rng = random.Random(seed)
        self._store: IndexStore | None = None
        self._root: str | None = None

    def applies_to(self, path: str) -> bool:
        # A probe after every batch the indexer sees: search is measured on fresh data.
        return not self._ignore(path, False)

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        real = os.path.realpath(os.fspath(root))
        location = choose_index_path(real, explicit=self._index_path, log_path=self._log_path,
                                     env=self._env)
        try:
            results = self._run(real, location)
        except sqlite3.DatabaseError:
            # The indexer may have rebuilt the file under our open connection (a new
            # schema version, a corrupt cache replaced): look again once, from scratch.
            self.close()
            results = self._run(real, location)
        if results is None:
            return AnalysisResult(summary="no index yet",
                                  data={"queries": 0, "index_path": os.fspath(location)})
        return AnalysisResult(summary=probe_summary(results),
                              data={**probe_figures(results), "index_path": os.fspath(location),
                                    "samples": [vars(r) for r in results]})

    def _run(self, real: str, location: Path) -> list[ProbeQuery] | None:
        store = self._open(real, location)
        if store is None:
            return None
        store.forget_files()  # the indexer may have moved or dropped files since last time
        with store.transaction():  # one snapshot: the indexer may commit meanwhile
            workspace_id = store.workspace_id(real)
            samples = self._sample(store, workspace_id) if workspace_id is not None else []
            return [self._probe(store, real, s) for s in samples]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _open(self, real: str, location: Path) -> IndexStore | None:
        if (self._store is not None and self._root == real and self._store.path == location
                and location.exists()):
            return self._store
        self.close()
        try:
            self._store = IndexStore.open(location, readonly=True)
        except IndexUnavailable:
            return None  # not built yet (the indexer runs beside us on the first pass)
        self._root = real
        return self._store

    def _sample(self, store: IndexStore, workspace_id: int) -> list[SymbolRow]:
        span = store.symbol_id_range()
        if span is None:
            return []
        chosen: dict[str, SymbolRow] = {}
        for _ in range(self._queries * 4):
            if len(chosen) >= self._queries:
                break
            row = store.symbol_at_or_after(self._rng.randint(*span), workspace_id,
                                           _SAMPLE_KINDS)
            if row is not None and not _is_dunder(row.name):
                chosen.setdefault(row.name, row)
        return list(chosen.values())

    def _probe(self, store: IndexStore, root: str, symbol: SymbolRow) -> ProbeQuery:
        started = time.perf_counter()
        hits = search(store, symbol.name, limit=self._limit, workspace=root)
        ms = (time.perf_counter() - started) * 1000.0
        rank = next((i for i, h in enumerate(hits, 1)
                     if h.path == symbol.path and h.line == symbol.line), None)
        # Definitions of the name in its own case are the tier at DEFINITION (less the
        # fractions for kind and depth).
        definition_rank = next((i for i, h in enumerate(hits, 1)
                                if h.is_definition and h.score > DEFINITION_OTHER_CASE),
                               None)
        return ProbeQuery(query=symbol.name, kind=symbol.kind, path=symbol.path,
                          line=symbol.line, rank=rank, definition_rank=definition_rank,
                          hits=len(hits), ms=round(ms, 3))


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def probe_figures(results: Sequence[ProbeQuery]) -> dict[str, Any]:
    """Latency and accuracy of a set of probe queries (the activity's ``result_data``)."""
    times = [r.ms for r in results]
    count = len(results)
    first = sum(1 for r in results if r.rank == 1)
    return {
        "queries": count,
        "latency_ms": {
            "p50": round(percentile(times, 50), 3),
            "p95": round(percentile(times, 95), 3),
            "max": round(max(times, default=0.0), 3),
            "mean": round(sum(times) / count, 3) if count else 0.0,
        },
        "mean_reciprocal_rank": round(sum(1.0 / r.rank for r in results if r.rank) / count, 4)
        if count else None,
        "hit_at_1": round(first / count, 4) if count else None,
        "definition_first": first,
        "found": sum(1 for r in results if r.rank is not None),
        "any_definition_first": sum(1 for r in results if r.definition_rank == 1),
    }


def probe_summary(results: Sequence[ProbeQuery]) -> str:
    if not results:
        return "0 queries (no symbols indexed yet)"
    first = sum(1 for r in results if r.rank == 1)
    return f"{len(results)} queries, definition first in {first}"
