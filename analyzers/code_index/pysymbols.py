"""Python definitions from ``ast``: classes, functions, methods, module and class names.

Pure: text in, symbols out. Source that ``ast.parse`` rejects (a syntax error, null
bytes, nesting deep enough for a ``RecursionError`` or ``MemoryError``) yields no
symbols and the reason; the caller still indexes the file's text. The walk over
the tree is iterative and only follows statement bodies, so it cannot hit the
recursion limit on input the parser accepted.

Qualified names follow ``__qualname__`` prefixed with the module derived from the
path: ``pkg/mod.py`` -> ``pkg.mod.Class.method``, a function nested in a function
-> ``pkg.mod.outer.<locals>.inner``, ``pkg/__init__.py`` -> ``pkg``.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from analyzers.common.pyparse import parse_python

PYTHON_SUFFIXES: tuple[str, ...] = (".py", ".pyi", ".pyw")

CLASS, FUNCTION, ASYNC_FUNCTION = "class", "function", "async_function"
METHOD, ASYNC_METHOD = "method", "async_method"
VARIABLE, ATTRIBUTE = "variable", "attribute"
FUNCTION_KINDS: frozenset[str] = frozenset({FUNCTION, ASYNC_FUNCTION, METHOD, ASYNC_METHOD})
#: Order among definitions of one name: what a person searching a name most likely wants.
KIND_RANK: dict[str, int] = {CLASS: 0, FUNCTION: 1, ASYNC_FUNCTION: 1, METHOD: 2,
                             ASYNC_METHOD: 2, VARIABLE: 3, ATTRIBUTE: 4}

# Everything ast.parse is known to raise on hostile input; anything else is a bug of ours.
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)

_DEF_NAME = re.compile(r"(?:async\s+)?(?:def|class)\s+")
_Def: TypeAlias = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Symbol:
    name: str
    qualname: str
    kind: str
    line: int  # 1-based, the ``def``/``class`` line (not a decorator's)
    col: int  # 1-based column of the name, in characters
    depth: int  # 0 for module level, +1 per enclosing class or function


@dataclass(frozen=True)
class SymbolScan:
    symbols: tuple[Symbol, ...]
    error: str | None = None  # why the source could not be parsed; no symbols then


def is_python(path: str, head: bytes = b"") -> bool:
    """By suffix, or by a ``#!...python`` first line for scripts without one."""
    if path.endswith(PYTHON_SUFFIXES):
        return True
    if head.startswith(b"#!"):
        first = head.split(b"\n", 1)[0]
        return b"python" in first
    return False


def module_name(path: str) -> str:
    """``pkg/sub/mod.py`` -> ``pkg.sub.mod``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = path.split("/")
    last = parts[-1]
    for suffix in PYTHON_SUFFIXES:
        if last.endswith(suffix):
            last = last[: -len(suffix)]
            break
    parts[-1] = last
    if parts[-1] == "__init__":
        parts.pop()
    name = ".".join(p for p in parts if p)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # A file name that is not UTF-8 (kept as lone surrogates): its bytes as \\xNN, since
        # the qualified name is text that SQLite and terminals must accept.
        name = os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def extract_symbols(source: str, module: str, lines: Sequence[str] | None = None) -> SymbolScan:
    """Every definition in ``source``; ``lines`` (``source`` split by line) when the caller
    has them already, used to turn ``ast``'s byte offsets into character columns."""
    try:
        tree = parse_python(source)
    except PARSE_ERRORS as exc:
        return SymbolScan((), _parse_error(exc))
    if lines is None:
        lines = split_lines(source)
    # The walk is depth-first by stack; sorting gives source order, whatever the nesting.
    return SymbolScan(tuple(sorted(_walk(tree, module, lines), key=lambda s: (s.line, s.col))))


def split_lines(text: str) -> list[str]:
    """Lines as ``ast`` and editors number them: ``\\r\\n``, ``\\r`` and ``\\n`` end a line,
    nothing else (``str.splitlines`` would also split on form feeds and U+2028)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _parse_error(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


# A frame of the walk: statements to visit, the qualname prefix, the depth, and whether
# the enclosing scope is a class (so defs are methods) or a function (so names are local).
_Frame = tuple[Sequence[ast.stmt], str, int, str]
_MODULE, _CLASS, _FUNCTION = "module", "class", "function"


def _walk(tree: ast.Module, module: str, lines: Sequence[str]) -> Iterator[Symbol]:
    stack: list[_Frame] = [(tree.body, module, 0, _MODULE)]
    while stack:
        body, prefix, depth, scope = stack.pop()
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield _definition(node, prefix, depth, scope, lines)
                inner = _join(prefix, node.name)
                if isinstance(node, ast.ClassDef):
                    stack.append((node.body, inner, depth + 1, _CLASS))
                else:
                    stack.append((node.body, f"{inner}.<locals>", depth + 1, _FUNCTION))
            elif scope != _FUNCTION and isinstance(node, (ast.Assign, ast.AnnAssign)):
                kind = VARIABLE if scope == _MODULE else ATTRIBUTE
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in _assigned_names(targets):
                    yield Symbol(name.id, _join(prefix, name.id), kind, name.lineno,
                                 character_column(lines, name.lineno, name.col_offset), depth)
            elif scope != _FUNCTION and _is_type_alias(node):
                alias = getattr(node, "name", None)
                if isinstance(alias, ast.Name):
                    kind = VARIABLE if scope == _MODULE else ATTRIBUTE
                    yield Symbol(alias.id, _join(prefix, alias.id), kind, alias.lineno,
                                 character_column(lines, alias.lineno, alias.col_offset), depth)
            else:
                # if/try/with/for/while/match blocks define names in the enclosing scope.
                for block in _blocks(node):
                    stack.append((block, prefix, depth, scope))


def _definition(node: _Def, prefix: str, depth: int, scope: str,
                lines: Sequence[str]) -> Symbol:
    if isinstance(node, ast.ClassDef):
        kind = CLASS
    elif isinstance(node, ast.AsyncFunctionDef):
        kind = ASYNC_METHOD if scope == _CLASS else ASYNC_FUNCTION
    else:
        kind = METHOD if scope == _CLASS else FUNCTION
    return Symbol(node.name, _join(prefix, node.name), kind, node.lineno,
                  _name_column(lines, node), depth)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _assigned_names(targets: Sequence[ast.expr]) -> Iterator[ast.Name]:
    pending = list(reversed(targets))
    while pending:
        target = pending.pop()
        if isinstance(target, ast.Name):
            yield target
        elif isinstance(target, (ast.Tuple, ast.List)):
            pending.extend(reversed(target.elts))
        elif isinstance(target, ast.Starred):
            pending.append(target.value)
        # Attributes and subscripts (``a.b = 1``, ``d[k] = 1``) define no new name.


def _is_type_alias(node: ast.stmt) -> bool:
    alias = getattr(ast, "TypeAlias", None)  # ``type X = ...``, Python 3.12+
    return alias is not None and isinstance(node, alias)


def _blocks(node: ast.stmt) -> Iterator[Sequence[ast.stmt]]:
    for attribute in ("body", "orelse", "finalbody"):
        block = getattr(node, attribute, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for handler in getattr(node, "handlers", ()) or ():
        if isinstance(handler, ast.ExceptHandler):
            yield handler.body
    for case in getattr(node, "cases", ()) or ():
        if isinstance(case, ast.match_case):
            yield case.body


def character_column(lines: Sequence[str], lineno: int, byte_offset: int) -> int:
    """The 1-based column, in characters, of an ``ast`` offset: ``ast`` columns count UTF-8
    bytes; people, editors (and jedi) count characters."""
    if not 1 <= lineno <= len(lines):
        return byte_offset + 1
    line = lines[lineno - 1]
    prefix = line.encode("utf-8", "surrogatepass")[:byte_offset]
    return len(prefix.decode("utf-8", "ignore")) + 1


def _name_column(lines: Sequence[str], node: _Def) -> int:
    """Where the name itself starts: a definition's own offset points at ``def``/``class``."""
    start = character_column(lines, node.lineno, node.col_offset)
    if 1 <= node.lineno <= len(lines):
        line = lines[node.lineno - 1]
        match = _DEF_NAME.match(line, start - 1)
        if match and line.startswith(node.name, match.end()):
            return match.end() + 1
    return start
