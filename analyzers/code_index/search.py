"""``code_search``: a probe that measures code search on real symbols of the index.

Each call samples classes and functions the indexer (:mod:`analyzers.code_index.indexer`)
put in the index, searches each by name (:func:`analyzers.code_index.query.search`) and
records how long that took and where the sampled definition came among the hits.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.base import AnalysisResult
from analyzers.code_index.pysymbols import CLASS, FUNCTION_KINDS
from analyzers.code_index.query import DEFAULT_LIMIT, DEFINITION_OTHER_CASE, search
from analyzers.code_index.store import IndexStore, IndexUnavailable, SymbolRow
from analyzers.common.locations import choose_index_path
from analyzers.common.percentiles import percentile
from analyzers.common.walk import IgnoreRule, default_ignore

DEFAULT_QUERIES = 10
#: Queries named one by one in a call's data: the misses, which say what to look at; the
#: figures cover every query, so the data stays this size however many are asked.
MAX_EXAMPLES = 5
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
        location, results = self.measure(root)
        if results is None:
            return AnalysisResult(summary="no index yet",
                                  data={"queries": 0, "index_path": os.fspath(location)})
        return AnalysisResult(summary=probe_summary(results),
                              data={**probe_figures(results), "index_path": os.fspath(location),
                                    **probe_examples(results)})

    def measure(self, root: Path) -> tuple[Path, list[ProbeQuery] | None]:
        """Where the index is, and every probe query of one call (None: no index yet)."""
        real = os.path.realpath(os.fspath(root))
        location = choose_index_path(real, explicit=self._index_path, log_path=self._log_path,
                                     env=self._env)
        try:
            return location, self._run(real, location)
        except sqlite3.DatabaseError:
            # The indexer may have rebuilt the file under our open connection (a new
            # schema version, a corrupt cache replaced): look again once, from scratch.
            self.close()
            return location, self._run(real, location)

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


def probe_examples(results: Sequence[ProbeQuery],
                   limit: int = MAX_EXAMPLES) -> dict[str, Any]:
    """A few named queries for the activity's ``result_data``: up to ``limit`` whose sampled
    definition did not come first (where it came, and where the first definition of the
    name did), in the order they ran, and the slowest query."""
    misses = [{"query": r.query, "path": r.path, "line": r.line, "rank": r.rank,
               "definition_rank": r.definition_rank}
              for r in results if r.rank != 1][:limit]
    slowest = max(results, key=lambda r: r.ms, default=None)
    return {"misses": misses,
            "slowest": None if slowest is None else {"query": slowest.query, "ms": slowest.ms}}


def probe_summary(results: Sequence[ProbeQuery]) -> str:
    if not results:
        return "0 queries (no symbols indexed yet)"
    first = sum(1 for r in results if r.rank == 1)
    return f"{len(results)} queries, definition first in {first}"
