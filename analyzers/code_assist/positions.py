"""Where to ask: real names and attribute accesses of one Python file, sampled deterministically.

Pure: a parsed module in, positions out. A position names the code it was taken from
(the name used there, or the attribute written after the dot), which is what an answer
is checked against later. Names are taken only where they are read and not bound by
the function they are read in (parameters, locals, names of enclosing functions): the
code index records module and class definitions, never a function's locals, so only
those names have a definition the index can confirm. The sample depends on nothing
but the file's path and bytes, so the same file is asked the same questions every
time (a crash repeats, and the runner can tell a file that breaks jedi from an accident).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from analyzers.code_index.pysymbols import character_column, module_name

DEFINITION, REFERENCES, COMPLETION = "definition", "references", "completion"
#: The kinds of request, in the order a call asks them and reports them.
KINDS: tuple[str, ...] = (DEFINITION, REFERENCES, COMPLETION)

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_Scope = (ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ListComp | ast.SetComp
          | ast.DictComp | ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class Position:
    kind: str  # one of KINDS
    name: str  # the name read there, or (completion) the attribute the code uses there
    line: int  # 1-based
    column: int  # 0-based, in characters: jedi's convention


@dataclass(frozen=True)
class Use:
    name: str
    line: int
    column: int


def name_uses(tree: ast.Module, lines: Sequence[str], *, path: str = "",
              in_workspace: Callable[[str], bool] | None = None) -> list[Use]:
    """Every read of a name that refers to one the module itself binds, in source order.

    Python looks a name up in the enclosing functions, then the module, then the
    builtins. A name bound by an enclosing function (or comprehension), or declared
    ``global`` there (so rebound in it), is left out: the index records no function's
    bindings. So is a name the module does not bind (a builtin, or one only a ``*``
    import could bring), and, given ``in_workspace`` (dotted module name -> whether the
    workspace has it), a name imported from a module the workspace does not hold
    (``path`` places relative imports): its definition lies outside what the index knows.
    """
    bindings: dict[int, _Bindings] = {}  # per scope node, alive for this call only

    def of(scope: _Scope) -> _Bindings:
        if id(scope) not in bindings:
            bindings[id(scope)] = _scope_bindings(scope)
        return bindings[id(scope)]

    module = _bindings(tree.body).bound
    imported = imported_from(tree, path)
    if in_workspace is not None:
        assigned = _bindings(tree.body, imports=False).bound  # a fallback def counts too
        module = frozenset(n for n in module if n not in imported or n in assigned
                           or in_workspace(imported[n]))
    uses: list[Use] = []
    for node, scopes in _walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and node.id in module \
                and not any(node.id in of(scope).bound or node.id in of(scope).declared_global
                            for scope in scopes):
            uses.append(Use(node.id, node.lineno, _chars(lines, node.lineno, node.col_offset)))
    return sorted(uses, key=lambda u: (u.line, u.column))


def imported_from(tree: ast.Module, path: str) -> dict[str, str]:
    """Module-level names bound by imports -> the dotted module they come from:
    ``from .core import add`` in ``pkg/app.py`` -> ``{"add": "pkg.core"}``; ``import a.b``
    binds ``a``, from ``a``; ``import a.b as c`` binds ``c``, from ``a.b``."""
    found: dict[str, str] = {}
    for node in _module_statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    first = alias.name.split(".")[0]
                    found[first] = first
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, path)
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = source
    return found


def _absolute(node: ast.ImportFrom, path: str) -> str:
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".") if path else []
    if not path.endswith(("/__init__.py", "/__init__.pyi")) and path not in (
            "__init__.py", "__init__.pyi"):
        package = package[:-1]  # a module's package is its parent
    base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, *([node.module] if node.module else [])])


def _module_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements that run at module level, inside if/try/with blocks included."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                pending.append(child)
            elif isinstance(child, ast.ExceptHandler):
                pending.extend(child.body)


def attribute_uses(tree: ast.Module, lines: Sequence[str]) -> list[Use]:
    """Every ``x.attr`` read, at the column right after its dot (where completion is asked)."""
    uses: list[Use] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
            continue
        line = node.end_lineno
        end = node.end_col_offset
        if line is None or end is None or not 1 <= line <= len(lines):
            continue
        column = _chars(lines, line, end) - len(node.attr)
        # Only ``x.attr`` written on one line with nothing between the dot and the name:
        # elsewhere "right after the dot" is not where the name starts.
        if column >= 1 and lines[line - 1][column - 1] == "." \
                and lines[line - 1][column:column + len(node.attr)] == node.attr:
            uses.append(Use(node.attr, line, column))
    return sorted(uses, key=lambda u: (u.line, u.column))


def sample_positions(path: str, digest: str, tree: ast.Module, lines: Sequence[str],
                     per_kind: int, in_workspace: Callable[[str], bool] | None = None
                     ) -> tuple[Position, ...]:
    """Up to ``per_kind`` positions of each kind, distinct names first (see
    :func:`name_uses` for ``in_workspace``). References are asked where definitions are,
    so the two answers can be compared."""
    rng = random.Random(f"{path}\0{digest}")  # a str seed: the same on every run
    names = name_uses(tree, lines, path=path, in_workspace=in_workspace)
    chosen_names = _distinct(rng, names, per_kind)
    chosen_attributes = _distinct(rng, attribute_uses(tree, lines), per_kind)
    positions = [Position(kind, u.name, u.line, u.column)
                 for kind in (DEFINITION, REFERENCES) for u in chosen_names]
    positions += [Position(COMPLETION, u.name, u.line, u.column) for u in chosen_attributes]
    return tuple(positions)


def _distinct(rng: random.Random, uses: list[Use], count: int) -> list[Use]:
    """``count`` uses in a shuffled order, one per name before any name twice."""
    shuffled = list(uses)
    rng.shuffle(shuffled)
    first: dict[str, Use] = {}
    for use in shuffled:
        first.setdefault(use.name, use)
    picked = list(first.values())[:count]
    if len(picked) < count:
        taken = set(picked)
        picked += [u for u in shuffled if u not in taken][:count - len(picked)]
    return sorted(picked, key=lambda u: (u.line, u.column))


def _walk(tree: ast.Module) -> Iterator[tuple[ast.AST, tuple[_Scope, ...]]]:
    """Every node with the scopes (functions, lambdas, comprehensions) it sits in,
    innermost last."""
    stack: list[tuple[ast.AST, tuple[_Scope, ...]]] = [(tree, ())]
    while stack:
        node, scopes = stack.pop()
        yield node, scopes
        inner: tuple[_Scope, ...] = (*scopes, node) if isinstance(
            node, (*_FUNCTIONS, *_COMPREHENSIONS)) else scopes
        outside = _outside(node) if isinstance(node, _FUNCTIONS) else []
        for child in ast.iter_child_nodes(node):
            if any(child is o for o in outside):
                stack.append((child, scopes))  # defaults and decorators run outside it
            else:
                stack.append((child, inner))


def _outside(scope: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.AST]:
    args = scope.args
    outside: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if not isinstance(scope, ast.Lambda):
        outside += scope.decorator_list
        if scope.returns is not None:
            outside.append(scope.returns)
        outside += [a.annotation for a in _arguments(args) if a.annotation is not None]
    return outside


def _arguments(args: ast.arguments) -> list[ast.arg]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return every


@dataclass(frozen=True)
class _Bindings:
    bound: frozenset[str]
    declared_global: frozenset[str]


def _scope_bindings(scope: _Scope) -> _Bindings:
    if isinstance(scope, _COMPREHENSIONS):
        targets = [n.id for g in scope.generators for n in ast.walk(g.target)
                   if isinstance(n, ast.Name)]
        return _Bindings(frozenset(targets), frozenset())
    found = _bindings([scope.body] if isinstance(scope, ast.Lambda) else scope.body)
    return _Bindings(found.bound | {a.arg for a in _arguments(scope.args)},
                     found.declared_global)


def _bindings(body: Sequence[ast.AST], *, imports: bool = True) -> _Bindings:
    """The names a block of statements binds, not counting nested functions' and classes'
    own (over-approximated: comprehension targets count too, which only leaves a few
    more names unasked)."""
    names: set[str] = set()
    declared_global: set[str] = set()
    pending = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # its body is its own scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if imports:
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        pending.extend(ast.iter_child_nodes(node))
    return _Bindings(frozenset(names), frozenset(declared_global))


def _chars(lines: Sequence[str], lineno: int, byte_offset: int) -> int:
    return character_column(lines, lineno, byte_offset) - 1  # jedi's columns start at 0
