"""Code search over the index: ranked hits for a text, a regex or a symbol name.

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
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from analyzers.code_index.pysymbols import KIND_RANK
from analyzers.code_index.regex_literals import fts_query, literal_requirement, requirement
from analyzers.code_index.store import IndexStore, SymbolRow, split_rowid

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
