"""Parsing Python that may be hostile: the same trees and errors on every version, no crash."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from analyzers.common.pyparse import depth_exceeds, parse_on_large_stack, parse_python

ORDINARY = textwrap.dedent("""
    import os

    class Box:
        def get(self, key: str) -> int:
            return {"a": 1}.get(key, 0) + sum(x * 2 for x in range(3))
    """) * 200  # longer than the short-source fast path


Parse = Callable[[str | bytes], ast.Module]


def chain(links: int) -> str:
    return "x = " + "+".join(["1"] * links) + "\n"


@pytest.mark.parametrize("parse", [parse_python, parse_on_large_stack])
def test_ordinary_code_parses_as_ast_parse_does(parse: Parse) -> None:
    assert ast.dump(parse(ORDINARY)) == ast.dump(ast.parse(ORDINARY))
    assert ast.dump(parse(ORDINARY.encode())) == ast.dump(ast.parse(ORDINARY))


@pytest.mark.parametrize("parse", [parse_python, parse_on_large_stack])
def test_errors_are_what_ast_parse_raises(parse: Parse) -> None:
    with pytest.raises(SyntaxError):
        parse("def (:\n" + "x = 1\n" * 2_000)
    with pytest.raises((ValueError, SyntaxError)):  # SyntaxError from Python 3.12
        parse(b"x = 1\0\n" + b"y = 2\n" * 2_000)


def test_a_chain_just_under_the_limit_parses_and_one_over_it_is_refused() -> None:
    limit = 3 * sys.getrecursionlimit()
    assert not depth_exceeds(parse_on_large_stack(chain(limit // 2)), limit)
    with pytest.raises(RecursionError):
        parse_on_large_stack(chain(limit * 2))


def test_depth_is_measured_without_recursion() -> None:
    node: ast.expr = ast.Constant(value=1)
    for _ in range(50_000):  # far deeper than Python could recurse
        node = ast.UnaryOp(op=ast.USub(), operand=node)
    assert depth_exceeds(node, 1_000)
    assert not depth_exceeds(node, 60_000)


CRASHER = """
import sys
from analyzers.common.pyparse import parse_python
source = "x = " + {kind!r} * {links} + "1"
try:
    parse_python(source)
    print("parsed")
except (RecursionError, MemoryError, SyntaxError) as exc:
    print(type(exc).__name__)
"""


@pytest.mark.parametrize("kind", ["1+", "a.b+", "f()+", "-", "not "])
def test_long_chains_never_kill_the_process(kind: str) -> None:
    # On Python 3.10 plain ast.parse dies of SIGSEGV on chains of 200,000: a child shows it.
    proc = subprocess.run([sys.executable, "-c", CRASHER.format(kind=kind, links=300_000)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() in {"RecursionError", "MemoryError", "SyntaxError"}
