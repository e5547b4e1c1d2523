"""Literal extraction from regexes: what it finds, and that it never excludes a real match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.code_index.regex_literals import (
    MAX_TRIGRAMS,
    AllOf,
    AnyOf,
    Literal,
    Requirement,
    fts_query,
    literal_requirement,
    requirement,
    trigrams,
)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("hello", Literal("hello")),
    (r"\bdef parse_\w+\(", Literal("def parse_")),
    ("foo.*barbaz", AllOf((Literal("foo"), Literal("barbaz")))),
    ("^import (os|sys)$", Literal("import ")),  # "os" is too short: the OR is vacuous
    ("^import (abc|sys)$", AllOf((Literal("import "), AnyOf((Literal("abc"), Literal("sys")))))),
    ("(?:abc)def", Literal("abcdef")),
    ("(abc|xyz)+tail", AllOf((AnyOf((Literal("abc"), Literal("xyz"))), Literal("tail")))),
    ("(abc|x)tail", Literal("tail")),  # one branch requires nothing: the OR is vacuous
    ("(?:optional)?word", Literal("word")),
    ("a[bc]d", None),
    ("ab", None),
    (".*", None),
    ("x{3}", None),  # a repeat is not a run of literals
    ("(?i)Straße", Literal("Stra")),  # non-ASCII under IGNORECASE ends the run
    ("Straße", Literal("Straße")),
    ("(?=look)ahead", Literal("ahead")),
])
def test_requirements(pattern: str, expected: Requirement | None) -> None:
    assert requirement(pattern) == expected


def test_a_pattern_the_parser_rejects_means_no_narrowing() -> None:
    assert requirement("(unclosed") is None


def test_plain_text_requirement() -> None:
    assert literal_requirement("abc") == Literal("abc")
    assert literal_requirement("ab") is None


def test_fts_query_is_the_and_of_trigrams() -> None:
    assert fts_query(Literal('a"bcd')) == '"a""b" AND """bc" AND "bcd"'
    need = AllOf((AnyOf((Literal("abc"), Literal("xyz"))), Literal("tail")))
    assert fts_query(need) == '(("abc") OR ("xyz")) AND ("tai" AND "ail")'


def test_long_literals_use_a_bounded_number_of_trigrams() -> None:
    text = "".join(chr(ord("a") + i % 26) + str(i) for i in range(100))
    chosen = trigrams(text)
    assert len(chosen) == MAX_TRIGRAMS
    assert all(t in text for t in chosen)


def satisfies(line: str, need: Requirement | None) -> bool:
    """What the trigram index checks, case-folded as it is."""
    if need is None:
        return True
    if isinstance(need, Literal):
        return all(t.lower() in line.lower() for t in trigrams(need.text))
    if isinstance(need, AllOf):
        return all(satisfies(line, p) for p in need.parts)
    return any(satisfies(line, p) for p in need.parts)


ATOMS = st.sampled_from(["abc", "a", "b", "c", "xyz", "x", ".", r"\w", "[ab]", "(abc|xy)",
                         "(?:bca)", r"\b", "^", "$", "(ab|cd)", "ab?", "(?i:ABC)", "é"])
QUANTIFIERS = st.sampled_from(["", "", "", "?", "*", "+", "{2}", "{0,2}"])
REGEXES = st.lists(st.tuples(ATOMS, QUANTIFIERS), min_size=1, max_size=6).map(
    lambda parts: "".join(a + q for a, q in parts))
TEXTS = st.text(alphabet="abcxyzABCé _", max_size=40)


@settings(max_examples=400, deadline=None)
@given(pattern=REGEXES, text=TEXTS, flags=st.sampled_from([0, re.IGNORECASE]))
def test_every_matching_line_satisfies_the_requirement(pattern: str, text: str,
                                                       flags: int) -> None:
    try:
        compiled = re.compile(pattern, flags)
    except re.error:  # "\\b?", "^*": the generator makes some nonsense; re refuses it
        return
    if compiled.search(text):
        assert satisfies(text, requirement(pattern, flags)), (pattern, text)
