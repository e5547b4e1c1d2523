"""Python definitions from ``ast``: kinds, qualified names, columns, and hostile source."""

from __future__ import annotations

import sys
import textwrap
import threading

import pytest

from analyzers.code_index.pysymbols import (
    ASYNC_FUNCTION,
    ASYNC_METHOD,
    ATTRIBUTE,
    CLASS,
    FUNCTION,
    METHOD,
    VARIABLE,
    Symbol,
    extract_symbols,
    is_python,
    module_name,
    split_lines,
)

SOURCE = textwrap.dedent('''\
    """Doc."""
    import os
    LIMIT = 10
    a, (b, *rest) = 1, (2, 3)
    typed: int = 3
    os.environ["X"] = "1"

    class Outer(Base):
        kind = "outer"
        def method(self):
            local = 1
            def helper():
                pass
        async def fetch(self):
            pass
        @property
        def value(self):
            return 1
        class Inner:
            pass

    async def main():
        pass

    def build():
        class Local:
            def go(self):
                pass

    if os.name == "nt":
        def platform():
            pass
    else:
        def platform():
            pass
    try:
        import json
    except ImportError:
        json = None
''')


def by_qualname(symbols: tuple[Symbol, ...]) -> dict[str, list[Symbol]]:
    found: dict[str, list[Symbol]] = {}
    for symbol in symbols:
        found.setdefault(symbol.qualname, []).append(symbol)
    return found


def test_every_kind_with_its_qualified_name() -> None:
    scan = extract_symbols(SOURCE, "pkg.mod")
    assert scan.error is None
    found = by_qualname(scan.symbols)
    expected = {
        "pkg.mod.LIMIT": VARIABLE, "pkg.mod.a": VARIABLE, "pkg.mod.b": VARIABLE,
        "pkg.mod.rest": VARIABLE, "pkg.mod.typed": VARIABLE,
        "pkg.mod.Outer": CLASS, "pkg.mod.Outer.kind": ATTRIBUTE,
        "pkg.mod.Outer.method": METHOD, "pkg.mod.Outer.method.<locals>.helper": FUNCTION,
        "pkg.mod.Outer.fetch": ASYNC_METHOD, "pkg.mod.Outer.value": METHOD,
        "pkg.mod.Outer.Inner": CLASS, "pkg.mod.main": ASYNC_FUNCTION,
        "pkg.mod.build": FUNCTION, "pkg.mod.build.<locals>.Local": CLASS,
        "pkg.mod.build.<locals>.Local.go": METHOD, "pkg.mod.platform": FUNCTION,
        "pkg.mod.json": VARIABLE,
    }
    assert {q: symbols[0].kind for q, symbols in found.items()} == expected
    assert len(found["pkg.mod.platform"]) == 2  # both branches define it
    # Locals of functions are not symbols; neither are attribute or item assignments.
    assert not any(s.name in ("local", "os", "environ") for s in scan.symbols)


def test_lines_columns_and_depth() -> None:
    scan = extract_symbols(SOURCE, "m")
    found = by_qualname(scan.symbols)
    value = found["m.Outer.value"][0]
    assert (value.line, value.col, value.depth) == (17, 9, 1)  # the def line, not @property
    fetch = found["m.Outer.fetch"][0]
    assert (fetch.line, fetch.col) == (14, 15)  # after "async def "
    assert found["m.LIMIT"][0].col == 1
    assert found["m.b"][0].col == 5
    assert found["m.Outer.method.<locals>.helper"][0].depth == 2
    lines = split_lines(SOURCE)
    for symbol in scan.symbols:  # every column points at the name itself
        line = lines[symbol.line - 1]
        assert line[symbol.col - 1:].startswith(symbol.name), symbol


def test_columns_count_characters_not_bytes() -> None:
    scan = extract_symbols("ñé = 1\nclass Ünïcode: pass\nx = 'é'; déf = 2\n", "m")
    found = {s.name: s for s in scan.symbols}
    assert found["Ünïcode"].col == 7
    assert found["déf"].col == 10


def test_symbols_come_in_source_order() -> None:
    scan = extract_symbols(SOURCE, "m")
    assert [(s.line, s.col) for s in scan.symbols] == sorted((s.line, s.col)
                                                              for s in scan.symbols)


@pytest.mark.parametrize(("source", "error"), [
    ("def broken(:\n", "SyntaxError"),
    ("x = " + "(" * 300 + "1" + ")" * 300 + "\n", "SyntaxError"),
    ("x = " + "-" * 100_000 + "1\n", "MemoryError"),
    ("x = " + "+".join(["1"] * 200_000) + "\n", "RecursionError"),
    ("x = 1\0\n", "SyntaxError" if sys.version_info >= (3, 11) else "ValueError"),
    ("".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n",
     "IndentationError"),
])
def test_source_ast_rejects_gives_no_symbols_and_a_reason(source: str, error: str) -> None:
    scan = extract_symbols(source, "m")
    assert scan.symbols == ()
    assert scan.error is not None and scan.error.startswith(error)


def test_hostile_source_in_a_worker_thread_does_not_crash() -> None:
    # The runner calls analyzers on their own threads (smaller stacks than the main one).
    results: list[str | None] = []
    source = "x = " + "+".join(["1"] * 200_000) + "\n"
    thread = threading.Thread(target=lambda: results.append(extract_symbols(source, "m").error))
    thread.start()
    thread.join()
    assert results and results[0] is not None


def test_module_names_and_python_detection() -> None:
    assert module_name("pkg/sub/mod.py") == "pkg.sub.mod"
    assert module_name("pkg/__init__.py") == "pkg"
    assert module_name("__init__.py") == ""
    assert module_name("stubs/types.pyi") == "stubs.types"
    assert module_name("bin/tool") == "bin.tool"
    assert is_python("a/b.py") and is_python("a/b.pyi") and is_python("a/b.pyw")
    assert is_python("bin/tool", b"#!/usr/bin/env python3\nprint(1)\n")
    assert not is_python("bin/tool", b"#!/bin/sh\necho\n")
    assert not is_python("notes.txt", b"python")


def test_split_lines_matches_ast_numbering() -> None:
    assert split_lines("a\r\nb\rc\nd\x0ce\u2028f") == ["a", "b", "c", "d\x0ce\u2028f"]
    source = "x = 1\r\ny = 2\rz = 3\n"
    lines = {s.name: s.line for s in extract_symbols(source, "m").symbols}
    assert lines == {"x": 1, "y": 2, "z": 3}
