"""Where code assistance asks: names the module binds and ``x.attr`` reads, sampled the
same way for the same bytes."""

from __future__ import annotations

import ast
import keyword
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.code_assist.positions import (
    COMPLETION,
    DEFINITION,
    REFERENCES,
    attribute_uses,
    imported_from,
    name_uses,
    sample_positions,
)
from analyzers.code_index.pysymbols import split_lines

SOURCE = textwrap.dedent("""\
    import os
    import json.decoder
    from .core import add as plus, Box
    from outside import helper

    LIMIT = 3
    total = plus(LIMIT, 1)


    def run(items, limit=LIMIT):
        local = len(items)
        squares = [item * item for item in items]
        box = Box()
        box.put(local)
        helper(os.getcwd())
        return run, squares, total


    def bump():
        global total
        total = total + 1
""")


def parsed(text: str = SOURCE) -> tuple[ast.Module, list[str]]:
    return ast.parse(text), split_lines(text)


def test_only_names_the_module_binds_are_asked_where_no_function_rebinds_them() -> None:
    tree, lines = parsed()
    uses = {(u.name, u.line) for u in name_uses(tree, lines)}
    assert ("plus", 7) in uses and ("LIMIT", 7) in uses
    assert ("LIMIT", 10) in uses  # a default runs in the module's scope
    assert ("Box", 13) in uses and ("helper", 15) in uses and ("os", 15) in uses
    assert ("run", 16) in uses and ("total", 16) in uses
    names = {name for name, _ in uses}
    assert not names & {"items", "local", "item", "box", "squares"}  # the function's own
    assert "len" not in names  # a builtin: the module does not bind it
    assert ("total", 21) not in uses  # declared global in bump(): rebound there


def test_names_imported_from_outside_the_workspace_are_left_out_when_asked() -> None:
    tree, lines = parsed()
    workspace = {"pkg", "pkg.core"}
    uses = {u.name for u in name_uses(tree, lines, path="pkg/app.py",
                                      in_workspace=workspace.__contains__)}
    assert {"plus", "Box", "LIMIT", "total", "run"} <= uses
    assert not uses & {"os", "helper"}


def test_imports_are_traced_to_their_module_relative_ones_from_the_file_s_package() -> None:
    tree, _ = parsed()
    assert imported_from(tree, "pkg/app.py") == {
        "os": "os", "json": "json", "plus": "pkg.core", "Box": "pkg.core", "helper": "outside"}
    assert imported_from(tree, "pkg/__init__.py")["plus"] == "pkg.core"
    deeper = ast.parse("from ..base import thing\nfrom . import sibling\n")
    assert imported_from(deeper, "pkg/sub/mod.py") == {"thing": "pkg.base",
                                                        "sibling": "pkg.sub"}


def test_completion_is_asked_right_after_the_dot_in_characters() -> None:
    text = "naïve = 'é'.upper()\nvalue = naïve.strip ().lower\n"
    tree, lines = parsed(text)
    uses = [(u.name, u.line, u.column) for u in attribute_uses(tree, lines)]
    assert uses == [("upper", 1, 12), ("strip", 2, 14), ("lower", 2, 23)]
    for name, line, column in uses:
        assert lines[line - 1][column - 1] == "."
        assert lines[line - 1][column:].startswith(name)


def test_only_a_name_written_right_after_its_dot_is_a_place_to_complete() -> None:
    tree, lines = parsed("x = os. path\ny = (os\n     .sep)\n")
    assert [(u.name, u.line, u.column) for u in attribute_uses(tree, lines)] == [("sep", 3, 6)]


def test_the_same_bytes_give_the_same_sample_and_each_kind_is_bounded() -> None:
    tree, lines = parsed()
    first = sample_positions("pkg/app.py", "digest-1", tree, lines, 2)
    assert first == sample_positions("pkg/app.py", "digest-1", tree, lines, 2)
    kinds = [p.kind for p in first]
    assert kinds.count(DEFINITION) == kinds.count(REFERENCES) == kinds.count(COMPLETION) == 2
    # References are asked where definitions are.
    assert [(p.name, p.line, p.column) for p in first if p.kind == DEFINITION] == [
        (p.name, p.line, p.column) for p in first if p.kind == REFERENCES]
    # Distinct names before any name twice.
    assert len({p.name for p in first if p.kind == DEFINITION}) == 2


@settings(max_examples=60, deadline=None)
@given(per_kind=st.integers(1, 12), digest=st.text(max_size=8))
def test_every_sampled_position_points_at_its_name(per_kind: int, digest: str) -> None:
    tree, lines = parsed()
    positions = sample_positions("pkg/app.py", digest, tree, lines, per_kind)
    uses = {(u.name, u.line, u.column) for u in name_uses(tree, lines)}
    attributes = {(u.name, u.line, u.column) for u in attribute_uses(tree, lines)}
    for kind in (DEFINITION, REFERENCES, COMPLETION):
        of_kind = [p for p in positions if p.kind == kind]
        pool = attributes if kind == COMPLETION else uses
        assert len(of_kind) == min(per_kind, len(pool))
        assert {(p.name, p.line, p.column) for p in of_kind} <= pool
    for p in positions:
        assert lines[p.line - 1][p.column:].startswith(p.name)


identifiers = st.from_regex(r"[a-zA-Zéπ_][a-zA-Z0-9éπ_]{0,6}", fullmatch=True).filter(
    lambda name: name.isidentifier() and not keyword.iskeyword(name))


@settings(max_examples=80, deadline=None)
@given(base=identifiers, chain=st.lists(identifiers, min_size=1, max_size=4),
       indent=st.integers(0, 8), prefix=st.text("é π", max_size=3))
def test_attribute_positions_count_characters_whatever_the_identifiers(
        base: str, chain: list[str], indent: int, prefix: str) -> None:
    text = f"{base} = 1\nif {base}:\n{' ' * (indent + 1)}value = ('{prefix}', " \
           f"{'.'.join([base, *chain])})\n"
    tree, lines = parsed(text)
    uses = attribute_uses(tree, lines)
    assert [u.name for u in sorted(uses, key=lambda u: u.column)] == chain
    for use in uses:
        assert lines[use.line - 1][use.column - 1] == "."
        assert lines[use.line - 1][use.column:].startswith(use.name)
    assert {u.name for u in name_uses(tree, lines)} == {base}
