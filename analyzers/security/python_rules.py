"""bandit's rule set for Python, driven by one parse and one walk per file.

bandit spends most of its time in its own machinery, not in its rules: a context
dict, a line range and a nosec lookup for every node of the tree, a dict copy
and a ``Context`` per rule per node, a tokenizer pass over every file for
``# nosec`` comments. This engine calls the very same rule functions (bandit's
plugins and its blacklist, configured as the ``bandit`` command configures them
without a config file) with the same ``Context`` contents, in the same traversal
order, so the issues are the same (test id, line, severity, confidence), but:

* a context is built only for nodes that some rule inspects, and the rules of a node
  share one ``Context`` (bandit copies it per rule; no rule writes to it);
* the tokenizer runs only on files that contain ``nosec`` at all, and the bidi-control
  rule (B613) only on files that can hold such a character;
* line ranges are computed only for an issue on a file that has nosec comments
  (this is also what makes bandit quadratic on a 100,000-element literal: it
  builds the literal's whole line range once per element);
* the walk is iterative, so deep nesting that parses does not hit the recursion
  limit in the walk itself.

``# nosec`` keeps bandit's semantics exactly: a bare ``# nosec`` skips every
rule on the line (or on any line of the node's range), ``# nosec B602, B607``
or ``# nosec: subprocess_popen_with_shell_equals_true`` skips only those.

Deliberate differences: a file nested deeply enough to overflow bandit's
recursive walk is scanned here (bandit skips it); a rule that raises is counted
in :attr:`PyScan.rule_errors` (bandit only logs it); a node's context lacks
bandit's ``linerange`` entry (no rule of bandit's reads it; a third-party rule
that did would see it missing). Every issue bandit reports on a file it finishes
is reported here, and nothing else.
"""

from __future__ import annotations

import ast
import bisect
import io
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bandit.core import config as b_config
from bandit.core import context as b_context
from bandit.core import manager as b_manager
from bandit.core import test_set as b_test_set
from bandit.core import utils as b_utils

from analyzers.common.pyparse import parse_python

# Severity and confidence as bandit spells them.
BANDIT_LEVELS = ("UNDEFINED", "LOW", "MEDIUM", "HIGH")

_UTF8_BIDI_LEADS = (b"\xe2\x80", b"\xe2\x81")  # UTF-8 of U+200F, U+202A-E, U+2066-9
_MISSING = object()

Rule = Callable[..., Any]


@dataclass(frozen=True)
class PyIssue:
    """One issue as bandit reports it; ``text`` may quote source (a password, for B105)."""

    test_id: str
    test_name: str
    line: int
    col: int
    severity: str
    confidence: str
    text: str


@dataclass(frozen=True)
class PyScan:
    issues: tuple[PyIssue, ...]
    rule_errors: int  # rule functions that raised on this file (bandit logs and goes on)


class _Test:
    """One rule function with what bandit looks up on it for every call, looked up once."""

    __slots__ = ("bidi", "config", "func", "name", "test_id")

    def __init__(self, func: Rule) -> None:
        self.func = func
        self.name: str = func.__name__
        self.test_id: str = getattr(func, "_test_id", "")
        self.config: object = getattr(func, "_config", _MISSING)
        self.bidi = self.name == "trojansource"  # B613: see _may_have_bidi


class BanditRules:
    """bandit's default rule set, loaded once; :meth:`scan` is pure per file."""

    def __init__(self, plugin_options: Mapping[str, Any] | None = None) -> None:
        # Every rule, as `bandit -r` selects them without a profile: a workspace's
        # tests/skips hide findings afterwards (analyzers.security.skips), so what they
        # hid can be counted. Plugin options (a workspace's hardcoded_tmp_directory.tmp_dirs)
        # change what a rule finds, so they are given to the rules as bandit gives them.
        config = b_config.BanditConfig()
        if plugin_options:
            config.config.update(plugin_options)
        tests = b_test_set.BanditTestSet(config, profile={})
        self._tests: dict[str, tuple[_Test, ...]] = {
            checktype: tuple(_Test(f) for f in funcs) for checktype, funcs in tests.tests.items()
        }

    @property
    def checktypes(self) -> frozenset[str]:
        return frozenset(self._tests)

    def scan(self, data: bytes, filename: str) -> PyScan:
        """bandit's issues for one file; raises what ``ast.parse`` raises (SyntaxError,
        ValueError for NUL bytes, RecursionError, MemoryError) for the caller to record."""
        tree = parse_python(data)
        nosec = nosec_lines(data) if b"nosec" in data else {}
        walk = _Walk(self._tests, filename, data, nosec)
        walk.run(tree)
        return PyScan(tuple(walk.issues), walk.rule_errors)


def nosec_lines(data: bytes) -> dict[int, set[str]]:
    """Line -> rule ids a ``# nosec`` comment there names (empty: every rule), as bandit
    reads them: from the tokenizer's comments, keeping what it saw before a token error."""
    found: dict[int, set[str]] = {}
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            if token.type == tokenize.COMMENT:
                tests = b_manager._parse_nosec_comment(token.string)
                if tests is not None:
                    found[token.start[0]] = tests
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        pass  # bandit stops at a TokenError too; the other two fail ast.parse anyway
    return found


class _Walk:
    """bandit's ``BanditNodeVisitor`` + ``BanditTester`` for one file, minus the overhead."""

    def __init__(self, tests: Mapping[str, tuple[_Test, ...]], filename: str, data: bytes,
                 nosec: dict[int, set[str]]) -> None:
        self.tests = tests
        self.filename = filename
        self.data = data
        self.fdata = io.BytesIO(data)
        self.nosec = nosec
        self.nosec_keys = sorted(nosec)
        self.imports: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.issues: list[PyIssue] = []
        self.rule_errors = 0
        try:
            self.namespace = b_utils.get_module_qualname_from_path(filename)
        except b_utils.InvalidModulePath:
            self.namespace = ""

    # --- traversal --------------------------------------------------------------

    def run(self, tree: ast.AST) -> None:
        # bandit's generic_visit, unrolled: pre-order over ast fields, each child given
        # its parent and next sibling just before it is visited, never earlier. Field-less
        # nodes (Load, Add, Eq...) are shared singletons in CPython's trees and no rule
        # looks at them, so they are passed over unless some rule registered for them.
        tests = self.tests
        handlers: dict[str, Callable[[Any], None]] = {
            "Call": self._call, "Constant": self._constant, "FunctionDef": self._function,
            "ClassDef": self._class, "Import": self._import, "ImportFrom": self._import_from,
        }
        exits = ("FunctionDef", "ClassDef")
        stack: list[tuple[Any, Any, Any]] = []
        node: Any = tree
        while True:
            children: list[tuple[Any, Any, Any]] = []
            for field in node._fields:
                value = getattr(node, field, None)
                if type(value) is list:
                    last = len(value) - 1
                    for index, item in enumerate(value):
                        if isinstance(item, ast.AST) and (item._fields
                                                          or type(item).__name__ in tests):
                            children.append(
                                (item, node, value[index + 1] if index < last else None))
                elif isinstance(value, ast.AST) and (value._fields
                                                     or type(value).__name__ in tests):
                    children.append((value, node, None))
            children.reverse()
            stack += children
            while stack:
                node, parent, sibling = stack.pop()
                if parent is not None:
                    break
                # the exit marker of a FunctionDef/ClassDef: leave its namespace
                self.namespace = b_utils.namespace_path_split(self.namespace)[0]
            else:
                break
            node._bandit_sibling = sibling
            node._bandit_parent = parent
            kind = type(node).__name__
            handler = handlers.get(kind)
            if handler is not None:
                handler(node)
                if kind in exits:
                    stack.append((node, None, None))
            elif kind in tests:
                self._run(self._context(node), kind, node)
        self._run({"file_data": self.fdata, "filename": self.filename, "lineno": 0,
                   "linerange": [0, 1], "col_offset": 0}, "File", None)

    def _class(self, node: ast.ClassDef) -> None:
        self.namespace = b_utils.namespace_path_join(self.namespace, node.name)

    # --- the visitor's node handlers ----------------------------------------------

    def _context(self, node: ast.AST) -> dict[str, Any]:
        context: dict[str, Any] = {"imports": self.imports, "import_aliases": self.aliases}
        if hasattr(node, "lineno"):
            context["lineno"] = node.lineno
        if hasattr(node, "col_offset"):
            context["col_offset"] = node.col_offset
        if hasattr(node, "end_col_offset"):
            context["end_col_offset"] = node.end_col_offset
        context["node"] = node
        context["filename"] = self.filename
        context["file_data"] = self.fdata
        return context

    def _call(self, node: ast.Call) -> None:
        if "Call" not in self.tests:
            return
        context = self._context(node)
        context["call"] = node
        qualname = b_utils.get_call_name(node, self.aliases)
        context["qualname"] = qualname
        context["name"] = qualname.split(".")[-1]
        self._run(context, "Call", node)

    def _function(self, node: ast.FunctionDef) -> None:
        context = self._context(node)
        context["function"] = node
        qualname = self.namespace + "." + b_utils.get_func_name(node)
        name = qualname.split(".")[-1]
        context["qualname"] = qualname
        context["name"] = name
        self.namespace = b_utils.namespace_path_join(self.namespace, name)
        self._run(context, "FunctionDef", node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        context = self._context(node)
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            self.imports.add(alias.name)
            context["module"] = alias.name
        self._run(context, "Import", node)

    def _import_from(self, node: ast.ImportFrom) -> None:
        module = node.module
        if module is None:
            self._import(node)
            return
        context = self._context(node)
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = module + "." + alias.name
            else:
                self.aliases[alias.name] = module + "." + alias.name
            self.imports.add(module + "." + alias.name)
            context["module"] = module
            context["name"] = alias.name
        self._run(context, "ImportFrom", node)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str):
            kind, key = "Str", "str"
        elif isinstance(value, bytes):
            kind, key = "Bytes", "bytes"
        else:
            return
        parent = node._bandit_parent  # type: ignore[attr-defined]
        if kind not in self.tests or isinstance(parent, ast.Expr):  # docstrings and the like
            return
        context = self._context(node)
        context[key] = value
        self._run(context, kind, parent)

    # --- the tester ---------------------------------------------------------------

    def _run(self, context: dict[str, Any], checktype: str, span: ast.AST | None) -> None:
        """bandit's ``BanditTester.run_tests``; ``span`` is the node whose line range
        a nosec comment may sit on (the parent, for strings)."""
        tests = self.tests.get(checktype, ())
        # bandit copies the context for each rule; no rule writes to it, so one will do.
        shared = b_context.Context(context)
        for test in tests:
            try:
                if test.bidi and not self._may_have_bidi():
                    continue
                if test.config is _MISSING:
                    result = test.func(shared)
                else:
                    result = test.func(shared, test.config)
            except Exception:  # bandit logs a crashing rule and goes on with the next
                self.rule_errors += 1
                continue
            if result is None:
                continue
            if result.test_id == "":
                result.test_id = test.test_id
            if self.nosec and self._skipped(result, span):
                continue
            line = result.lineno if result.lineno is not None else context["lineno"]
            col = result.col_offset if result.col_offset != -1 else context["col_offset"]
            self.issues.append(PyIssue(
                test_id=str(result.test_id), test_name=test.name, line=int(line),
                col=int(col), severity=str(result.severity), confidence=str(result.confidence),
                text=str(result.text)))

    def _may_have_bidi(self) -> bool:
        """trojansource (B613) reads the whole file for bidi controls; in a UTF-8 file
        without their lead bytes it cannot find one, so it need not run."""
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(self.data).readline)
        except SyntaxError:
            return True
        if encoding not in ("utf-8", "utf-8-sig"):
            return True
        return any(lead in self.data for lead in _UTF8_BIDI_LEADS)

    def _skipped(self, result: Any, span: ast.AST | None) -> bool:
        # bandit's _get_nosecs_from_contexts: the issue's own line (as the rule set it,
        # before defaulting), then the first nosec line of the node's range.
        own_line = self.nosec.get(result.lineno) if result.lineno is not None else None
        in_range = self._nosec_in_range(span)
        if own_line is None and in_range is None:
            return False
        skip: set[str] = set()
        if own_line is not None:
            skip.update(own_line)
        if in_range is not None:
            skip.update(in_range)
        return not skip or result.test_id in skip

    def _nosec_in_range(self, span: ast.AST | None) -> set[str] | None:
        if span is None:
            lines: range | list[int] = range(0, 2)  # the File context's [0, 1]
        elif getattr(span, "lineno", None) is not None and getattr(span, "end_lineno", None):
            lines = range(span.lineno, span.end_lineno + 1)  # type: ignore[attr-defined]
        else:
            lines = b_utils.linerange(span)
        if isinstance(lines, range):
            # The first nosec line inside the range, without building a list of every line
            # of a 100,000-line literal for each of its elements.
            keys = self.nosec_keys
            index = bisect.bisect_left(keys, lines.start)
            if index < len(keys) and keys[index] < lines.stop:
                return self.nosec[keys[index]]
            return None
        for line in lines:
            found = self.nosec.get(line)
            if found is not None:
                return found
        return None
