"""Which literal strings every match of a regex must contain: how regex search narrows files.

A trigram index cannot run a regex, but it can find the lines that contain
given substrings. If every match of ``foo_\\w+(bar|baz)`` contains ``foo_`` and
one of ``bar``/``baz``, only lines holding those can match; ``re`` then confirms
each candidate. This is the classic trigram-index technique (Russ Cox, "Regular
Expression Matching with a Trigram Index", the basis of Google Code Search).

The pattern is read with the standard library's own parser (``re._parser``, named
``sre_parse`` before Python 3.11), so its syntax is exactly Python's. That module
is private: should its shape ever change, :func:`requirement` returns ``None``
("no narrowing") rather than fail, and the search scans every line, slower but
still right. The extraction is deliberately simple and always sound:

* consecutive literal characters form a run (zero-width anchors such as ``^``,
  ``$`` and ``\\b`` do not break it); a run of at least 3 characters is required;
* a group counts as its contents, a repeat with a minimum of at least one as its
  body, an alternation as the OR of its branches (vacuous if any branch requires
  nothing);
* anything else (classes, ``.``, optional parts, lookarounds, back-references)
  ends the run and requires nothing.

The trigram index folds case, so a literal needs no case handling, except under
``IGNORECASE`` for non-ASCII characters, where ``re`` and SQLite's folding may
differ: those end the run.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

MIN_LITERAL = 3
#: Trigrams used per literal at most: a long literal's first trigrams already narrow
#: hard, and FTS5 pays for every term of the query.
MAX_TRIGRAMS = 24

_parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11)
                                       else "sre_parse")
_constants: Any = importlib.import_module("re._constants" if sys.version_info >= (3, 11)
                                          else "sre_constants")


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Requirement, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Requirement, ...]


Requirement: TypeAlias = Literal | AllOf | AnyOf


def requirement(pattern: str, flags: int = 0) -> Requirement | None:
    """What every match of ``pattern`` must contain; ``None`` when nothing is known."""
    try:
        parsed = _parser.parse(pattern, flags)
        ignorecase = bool(parsed.state.flags & re.IGNORECASE)
        return _all(_sequence(list(parsed), ignorecase))
    except Exception:  # a private parser: any surprise means "no narrowing", never a failure
        return None


def literal_requirement(text: str) -> Requirement | None:
    """The requirement of a plain substring search."""
    return Literal(text) if len(text) >= MIN_LITERAL else None


def fts_query(need: Requirement) -> str:
    """An FTS5 query (trigram tokenizer, ``detail='none'``) that every line meeting
    ``need`` satisfies: each literal as the AND of its trigrams."""
    if isinstance(need, Literal):
        return " AND ".join(_phrase(t) for t in trigrams(need.text))
    joiner = " AND " if isinstance(need, AllOf) else " OR "
    return joiner.join(f"({fts_query(part)})" for part in need.parts)


def trigrams(text: str) -> list[str]:
    distinct = list(dict.fromkeys(text[i:i + 3] for i in range(len(text) - 2)))
    if len(distinct) <= MAX_TRIGRAMS:
        return distinct
    step = len(distinct) / MAX_TRIGRAMS
    return [distinct[int(i * step)] for i in range(MAX_TRIGRAMS)]


def _phrase(trigram: str) -> str:
    return '"' + trigram.replace('"', '""') + '"'


def _all(parts: Sequence[Requirement]) -> Requirement | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _sequence(items: Sequence[tuple[Any, Any]], ignorecase: bool) -> list[Requirement]:
    """The requirements of a concatenation."""
    c = _constants
    needs: list[Requirement] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_LITERAL:
            needs.append(Literal("".join(run)))
        run.clear()

    for op, av in items:
        if op is c.LITERAL:
            char = chr(av)
            if ignorecase and not char.isascii():
                flush()
            else:
                run.append(char)
        elif op is c.AT:
            continue  # zero-width: the characters on either side are still adjacent
        elif op is c.SUBPATTERN:
            _group, add_flags, del_flags, body = av
            inner_case = (ignorecase or bool(add_flags & re.IGNORECASE)) and not (
                del_flags & re.IGNORECASE)
            body_items = list(body)
            if _only_literals(body_items) and inner_case == ignorecase:
                run.extend(chr(a) for o, a in body_items if o is c.LITERAL)
            else:
                flush()
                needs += _sequence(body_items, inner_case)
        elif op is getattr(c, "ATOMIC_GROUP", None):
            flush()
            needs += _sequence(list(av), ignorecase)
        elif op is c.BRANCH:
            flush()
            branches = [_all(_sequence(list(b), ignorecase)) for b in av[1]]
            if branches and all(b is not None for b in branches):
                needs.append(AnyOf(tuple(b for b in branches if b is not None)))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            flush()
            low, _high, body = av
            if low >= 1:
                needs += _sequence(list(body), ignorecase)
        else:
            flush()
    flush()
    return needs


def _only_literals(items: Sequence[tuple[Any, Any]]) -> bool:
    return all(op is _constants.LITERAL or op is _constants.AT for op, _ in items)
