"""Detecting the known-risky shapes in a module, and the fix sites of each.

Pure functions over a parsed module (or, when it does not parse, its text).
:func:`detect` finds each known-risky *shape* (:mod:`analyzers.patterns.shapes`: the
"before" pattern, ``yaml.load(``, ``shell=True``, a bare ``except:`` ...) and each *fix
site* (its safer form: ``yaml.safe_load(``, an argument list, ``except ValueError:`` ...),
each with the function (qualified name) it sits in. Imports are resolved, so ``from yaml
import load`` and ``import yaml as y`` are seen for what they are. :func:`detect_text` is
the line-by-line fallback for a file that does not parse.

Excerpts are rebuilt from the tree (callee names, the keyword that matters) and never
copied from the text, so no literal, and so no secret, leaves the file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

MODULE = "<module>"
MAX_EXCERPT = 80


@dataclass(frozen=True)
class Occurrence:
    """One place a risky shape is."""

    shape: str
    line: int
    context: str  # the qualified name of the function or class it is in, or <module>
    excerpt: str  # rebuilt from the tree, never copied text


@dataclass(frozen=True)
class FixSite:
    """One place that has the safe form of ``shape``."""

    shape: str
    line: int
    context: str
    excerpt: str


@dataclass(frozen=True)
class Detection:
    occurrences: tuple[Occurrence, ...]
    fixes: tuple[FixSite, ...]
    contexts: Mapping[str, int]  # every function/class (qualified) -> its line
    parsed: bool  # False: found by the text fallback, only good for warnings


# --- in a tree ------------------------------------------------------------------

_SUBPROCESS = frozenset({"subprocess.run", "subprocess.call", "subprocess.check_call",
                         "subprocess.check_output", "subprocess.Popen"})
_SUBPROCESS_ALWAYS_SHELL = frozenset({"subprocess.getoutput", "subprocess.getstatusoutput"})
_OS_SHELL = frozenset({"os.system", "os.popen"})
_YAML_RISKY = frozenset({"yaml.load", "yaml.load_all"})
_YAML_UNSAFE = frozenset({"yaml.unsafe_load", "yaml.unsafe_load_all"})
_YAML_SAFE = frozenset({"yaml.safe_load", "yaml.safe_load_all"})
_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader")
_PICKLE = frozenset(f"{module}.{name}" for module in ("pickle", "cPickle", "_pickle", "dill",
                                                      "marshal")
                    for name in ("load", "loads", "Unpickler"))
_JSON = frozenset({"json.loads", "json.load"})
_LITERAL_EVAL = frozenset({"ast.literal_eval"})  # json.loads counts too, with _JSON
_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options",
                           "request", "stream", "send"})
_WEAK_HASHES = frozenset({"md5", "sha1"})
_STRONG_HASHES = frozenset({"sha224", "sha256", "sha384", "sha512", "sha3_224", "sha3_256",
                            "sha3_384", "sha3_512", "blake2b", "blake2s"})
_RANDOM = frozenset({"random", "randint", "randrange", "choice", "choices", "getrandbits",
                     "sample", "shuffle", "uniform", "randbytes"})
_SECRET_SOURCES = frozenset({"os.urandom", "random.SystemRandom"})
_TEMPFILE_SAFE = frozenset({"tempfile.mkstemp", "tempfile.mkdtemp", "tempfile.TemporaryFile",
                            "tempfile.NamedTemporaryFile", "tempfile.TemporaryDirectory",
                            "tempfile.SpooledTemporaryFile"})
_SECRETISH = re.compile(r"token|secret|passw|pwd|nonce|salt|otp|csrf|api_?key|session_?(?:id|key)"
                        r"|auth|credential|reset_?code|verif", re.IGNORECASE)

_Hit = tuple[str, int, str, bool]  # (shape, line, excerpt, is_fix)


@dataclass(frozen=True)
class _Scope:
    context: str
    params: frozenset[str]  # the innermost function's parameter names
    hint: str  # names around the node that may say "this is a secret"


def detect(tree: ast.Module, path: str) -> Detection:
    """Every risky shape and fix site of a parsed module.

    Iterative (an explicit stack), so a tree as deep as ``ast.parse`` allows cannot
    overflow Python's recursion limit here. One pass, and the leaves that can hold
    nothing (``Load``, ``Add`` ...) are never pushed: this runs on every save.
    """
    aliases = _aliases(tree)
    in_tests = _is_test_path(path)
    occurrences: list[Occurrence] = []
    fixes: list[FixSite] = []
    contexts: dict[str, int] = {MODULE: 1}
    stack: list[tuple[ast.AST, _Scope]] = [(tree, _Scope(MODULE, frozenset(), ""))]
    push = stack.append
    while stack:
        node, scope = stack.pop()
        if isinstance(node, _INSPECTED):
            for shape, line, excerpt, is_fix in _inspect(node, scope, aliases, in_tests):
                if is_fix:
                    fixes.append(FixSite(shape, line, scope.context, excerpt))
                else:
                    occurrences.append(Occurrence(shape, line, scope.context, excerpt))
        if isinstance(node, _DEFINITIONS):
            inner = _enter(node, scope, contexts)
            for statement in node.body:
                push((statement, inner))
            # Decorators, defaults and bases run in the enclosing scope; only the body is inside.
            outer: list[ast.AST] = [*node.decorator_list]
            if isinstance(node, ast.ClassDef):
                outer += [*node.bases, *node.keywords]
            else:
                outer.append(node.args)
            for child in outer:
                push((child, scope))
            continue
        child_scope = _hinted(node, scope)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST) and not isinstance(item, _LEAVES):
                        push((item, child_scope))
            elif isinstance(value, ast.AST) and not isinstance(value, _LEAVES):
                push((value, child_scope))
    return Detection(tuple(occurrences), tuple(fixes), contexts, parsed=True)


_INSPECTED = (ast.Call, ast.ExceptHandler, ast.Compare, ast.Assert, ast.If)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_LEAVES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
_HINTED = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.keyword, ast.Dict)


def _enter(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, scope: _Scope,
           contexts: dict[str, int]) -> _Scope:
    name = node.name if scope.context == MODULE else f"{scope.context}.{node.name}"
    contexts.setdefault(name, node.lineno)
    if isinstance(node, ast.ClassDef):
        return _Scope(name, frozenset(), "")
    return _Scope(name, frozenset(_parameters(node.args)), node.name)


def _hinted(node: ast.AST, scope: _Scope) -> _Scope:
    """The scope for ``node``'s children, with the names that may mark a secret added."""
    if not isinstance(node, _HINTED):
        return scope
    if isinstance(node, ast.keyword):
        words = [node.arg] if node.arg else []
    elif isinstance(node, ast.Dict):
        words = [k.value for k in node.keys if isinstance(k, ast.Constant)
                 and isinstance(k.value, str) and len(k.value) <= 40]
    else:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        words = [_target_names(t) for t in targets]
    if not words:
        return scope
    return _Scope(scope.context, scope.params, " ".join([scope.hint, *words]))


def _inspect(node: ast.AST, scope: _Scope, aliases: Mapping[str, str],
             in_tests: bool) -> Iterator[_Hit]:
    if isinstance(node, ast.Call):
        yield from _inspect_call(node, scope, aliases)
    elif isinstance(node, ast.ExceptHandler):
        if node.type is None:
            yield "bare_except", node.lineno, "except:", False
        elif not (isinstance(node.type, ast.Name) and node.type.id == "BaseException"):
            yield "bare_except", node.lineno, f"except {_names(node.type)}:", True
    elif isinstance(node, ast.Compare):
        yield from _inspect_compare(node)
    elif isinstance(node, ast.Assert) and _validates(scope, in_tests):
        if any(isinstance(n, ast.Name) and n.id in scope.params for n in ast.walk(node.test)):
            yield "assert_validation", node.lineno, "assert …", False
    elif (isinstance(node, ast.If) and _validates(scope, in_tests) and node.body
          and isinstance(node.body[0], ast.Raise)):
        yield "assert_validation", node.lineno, "if …: raise …", True


def _validates(scope: _Scope, in_tests: bool) -> bool:
    """Where an assert on a parameter is input validation: a public function (dunders
    included) of code that is not a test. In a private helper it states an invariant
    its callers keep, which is what assert is for."""
    if in_tests or not scope.params:
        return False
    return all(not part.startswith("_") or (part.startswith("__") and part.endswith("__"))
               for part in scope.context.split("."))


def _inspect_call(node: ast.Call, scope: _Scope, aliases: Mapping[str, str]) -> Iterator[_Hit]:
    name = _resolve(node.func, aliases)
    attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    line = node.lineno
    shown = _short(name or (f"….{attr}" if attr else "…"))
    verify = keywords.get("verify")
    if verify is not None and _is_false(verify):
        yield "verify_false", line, f"{shown}(…, verify=False)", False
    elif attr in _HTTP_METHODS:
        yield "verify_false", line, f"{shown}(…)", True
    if name is None:
        return
    if name in _YAML_RISKY:
        loader = keywords.get("Loader", node.args[1] if len(node.args) > 1 else None)
        safe = loader is not None and (_resolve(loader, aliases) or "").endswith(_SAFE_LOADERS)
        yield "yaml_load", line, f"{shown}(…{', Loader=…SafeLoader' if safe else ''})", safe
    elif name in _YAML_UNSAFE:
        yield "yaml_load", line, f"{shown}(…)", False
    elif name in _YAML_SAFE:
        yield "yaml_load", line, f"{shown}(…)", True
    elif name in _SUBPROCESS:
        shell = keywords.get("shell")
        if shell is not None and _is_true(shell):
            yield "subprocess_shell", line, f"{shown}(…, shell=True)", False
        elif shell is None or _is_falsy(shell):
            yield "subprocess_shell", line, f"{shown}([…])", True
            yield "os_system", line, f"{shown}([…])", True
    elif name in _SUBPROCESS_ALWAYS_SHELL:
        yield "subprocess_shell", line, f"{shown}(…)", False
    elif name in _OS_SHELL:
        yield "os_system", line, f"{shown}(…)", False
    elif name in _PICKLE:
        yield "pickle_load", line, f"{shown}(…)", False
    elif name in _JSON:
        yield "pickle_load", line, f"{shown}(…)", True
        yield "eval", line, f"{shown}(…)", True
    elif name in ("eval", "exec") and isinstance(node.func, ast.Name) and name not in aliases:
        yield name, line, f"{name}(…)", False
    elif name in _LITERAL_EVAL:
        yield "eval", line, f"{shown}(…)", True
    elif name.startswith("hashlib."):
        yield from _inspect_hash(node, name, keywords, shown)
    elif name.startswith("random.") and name[7:] in _RANDOM:
        if _SECRETISH.search(scope.hint):
            yield "random_token", line, f"{shown}(…)", False
    elif name.startswith("secrets.") or name in _SECRET_SOURCES:
        yield "random_token", line, f"{shown}(…)", True
    elif name == "tempfile.mktemp":
        yield "mktemp", line, f"{shown}(…)", False
    elif name in _TEMPFILE_SAFE:
        yield "mktemp", line, f"{shown}(…)", True


def _inspect_hash(node: ast.Call, name: str, keywords: Mapping[str, ast.expr],
                  shown: str) -> Iterator[_Hit]:
    algorithm = name[len("hashlib."):]
    if algorithm == "new" and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        algorithm = node.args[0].value.lower().replace("-", "_")
        known = algorithm in _WEAK_HASHES or algorithm in _STRONG_HASHES
        shown = f"{shown}('{algorithm}')" if known else f"{shown}(…)"  # never other literals
    else:
        shown = f"{shown}(…)"
    flag = keywords.get("usedforsecurity")
    not_for_security = flag is not None and _is_falsy(flag)
    if algorithm in _WEAK_HASHES:
        yield "weak_hash", node.lineno, shown, not_for_security
    elif algorithm in _STRONG_HASHES:
        yield "weak_hash", node.lineno, shown, True


def _inspect_compare(node: ast.Compare) -> Iterator[_Hit]:
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        if _is_none(left) or _is_none(right):
            if isinstance(op, (ast.Eq, ast.NotEq)):
                symbol = "==" if isinstance(op, ast.Eq) else "!="
                yield "eq_none", node.lineno, f"… {symbol} None", False
            elif isinstance(op, (ast.Is, ast.IsNot)):
                symbol = "is" if isinstance(op, ast.Is) else "is not"
                yield "eq_none", node.lineno, f"… {symbol} None", True
        left = right


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it names: ``import yaml as y`` gives y -> yaml, ``from yaml import
    load`` gives load -> yaml.load. Imports anywhere in the module count (a function-level
    import is as good as a top-level one for this). Only statements are visited: an
    import is never inside an expression, and they are a small part of a tree."""
    aliases: dict[str, str] = {}
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        else:
            for name in _BLOCKS:
                block = getattr(node, name, None)
                if block:
                    stack.extend(b for b in block if isinstance(b, ast.stmt))
            for handler in getattr(node, "handlers", ()):
                stack.extend(handler.body)
            for case in getattr(node, "cases", ()):
                stack.extend(case.body)
    return aliases


_BLOCKS = ("body", "orelse", "finalbody")


def _resolve(expr: ast.expr, aliases: Mapping[str, str]) -> str | None:
    """The dotted name a callee stands for, imports resolved; None for anything else."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(aliases.get(expr.id, expr.id))
    return ".".join(reversed(parts))


def _parameters(args: ast.arguments) -> Iterator[str]:
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if arg is not None and arg.arg not in ("self", "cls"):
            yield arg.arg


def _target_names(target: ast.expr) -> str:
    return " ".join(n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(target)
                    if isinstance(n, (ast.Name, ast.Attribute)))


def _names(expr: ast.expr) -> str:
    if isinstance(expr, ast.Tuple):
        return "(" + ", ".join(_names(e) for e in expr.elts[:4]) + ")"
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    parts.append(expr.id if isinstance(expr, ast.Name) else "…")
    return _short(".".join(reversed(parts)))


def _short(text: str) -> str:
    return text if len(text) <= MAX_EXCERPT else text[:MAX_EXCERPT - 1] + "…"


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


def _is_true(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and bool(expr.value) and expr.value is not Ellipsis


def _is_false(expr: ast.expr) -> bool:
    """``False`` (or 0) written out; ``verify=None`` means the default, which verifies."""
    if not isinstance(expr, ast.Constant):
        return False
    return expr.value is False or (type(expr.value) is int and expr.value == 0)


def _is_falsy(expr: ast.expr) -> bool:
    return _is_false(expr) or _is_none(expr)


def _is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(p in ("test", "tests", "testing") for p in parts[:-1]))


# --- the text fallback ------------------------------------------------------------

_TEXT_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("yaml_load", re.compile(r"\byaml\.(?:load|load_all|unsafe_load)\s*\((?!.*SafeLoader)"),
     "yaml.load(…)"),
    ("subprocess_shell", re.compile(r"\bsubprocess\.\w+\s*\(.*\bshell\s*=\s*True"),
     "subprocess.…(…, shell=True)"),
    ("os_system", re.compile(r"\bos\.(?:system|popen)\s*\("), "os.system(…)"),
    ("bare_except", re.compile(r"^\s*except\s*:"), "except:"),
    ("pickle_load", re.compile(r"\b(?:c?[pP]ickle|dill|marshal)\.loads?\s*\("), "pickle.loads(…)"),
    ("eval", re.compile(r"(?<![\w.])eval\s*\("), "eval(…)"),
    ("exec", re.compile(r"(?<![\w.])exec\s*\("), "exec(…)"),
    ("verify_false", re.compile(r"\bverify\s*=\s*False\b"), "….get(…, verify=False)"),
    ("weak_hash", re.compile(r"\bhashlib\.(?:md5|sha1)\s*\((?!.*usedforsecurity\s*=\s*False)"),
     "hashlib.md5(…)"),
    ("mktemp", re.compile(r"\btempfile\.mktemp\s*\("), "tempfile.mktemp(…)"),
    ("eq_none", re.compile(r"[=!]=\s*None\b"), "… == None"),
)
_TEXT_RANDOM = re.compile(r"\brandom\.(?:" + "|".join(sorted(_RANDOM)) + r")\s*\(")


def detect_text(source: str) -> Detection:
    """Shapes found line by line, for a file that does not parse (mid-edit, Python 2):
    good enough to warn, never used to learn (``parsed`` is False)."""
    occurrences: list[Occurrence] = []
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or len(line) > 2000:
            continue  # a comment, or a minified line not worth a regex
        for shape, pattern, excerpt in _TEXT_RULES:
            if pattern.search(line):
                occurrences.append(Occurrence(shape, number, MODULE, excerpt))
        if _TEXT_RANDOM.search(line) and _SECRETISH.search(line):
            occurrences.append(Occurrence("random_token", number, MODULE, "random.…(…)"))
    return Detection(tuple(occurrences), (), {MODULE: 1}, parsed=False)
