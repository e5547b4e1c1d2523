"""``ast.parse`` that a hostile file cannot crash the process with, on every Python we support.

Python 3.10 builds the tree of a long left-nested chain (``1+1+...``, ``a.b.b...``,
``f()()...``) by C recursion with no depth check: 200,000 links overflow an 8 MB thread
stack and the whole daemon dies of SIGSEGV. Python 3.11 and later raise ``RecursionError``
instead (at about 3,000 levels with the default recursion limit). So on 3.10 a source
long enough to nest that deep is parsed on a thread whose stack fits its length (each link
takes at least two characters and, measured, well under 256 bytes of stack), and a tree
deeper than 3.11 would build is refused with the ``RecursionError`` 3.11 raises: the
analyzers see the same trees, and the same errors, on every version.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable

#: Whether this Python needs the guard (3.11 checks the depth itself).
NEEDS_GUARD = sys.version_info < (3, 11)

# A source this short nests at most 3,000 levels: what 3.11 accepts, safe on any stack.
_SHORT_SOURCE = 6_000
_STACK_PER_CHARACTER = 128  # half of 256 bytes per link, at two characters a link
_MIN_STACK = 32 << 20
_MAX_STACK = 1 << 30
_stack_size_lock = threading.Lock()  # threading.stack_size is process-wide


def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``; raises what it raises (``SyntaxError``,
    ``ValueError`` for a NUL byte, ``RecursionError``, ``MemoryError``), never SIGSEGV."""
    if not NEEDS_GUARD or len(source) <= _SHORT_SOURCE:
        return ast.parse(source, filename)
    return parse_on_large_stack(source, filename)


def parse_on_large_stack(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """Parse on a thread sized for ``source`` and refuse a tree deeper than 3.11 builds."""
    stack = max(_MIN_STACK, len(source) * _STACK_PER_CHARACTER)
    if stack > _MAX_STACK:
        raise MemoryError(f"{len(source):,} characters is too long to parse safely here")
    max_depth = 3 * sys.getrecursionlimit()  # the limit Python 3.11 applies

    def parse() -> ast.Module:
        tree = ast.parse(source, filename)
        if depth_exceeds(tree, max_depth):
            raise RecursionError("maximum recursion depth exceeded during ast construction")
        return tree

    return _run_on_stack(parse, stack)


def depth_exceeds(tree: ast.AST, limit: int) -> bool:
    """Whether any node lies more than ``limit`` levels below ``tree``; iterative, so a
    tree of any depth is measured without recursion."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def _run_on_stack(work: Callable[[], ast.Module], stack: int) -> ast.Module:
    outcome: list[ast.Module | BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread, raised there
            outcome.append(exc)

    with _stack_size_lock:
        previous = threading.stack_size(stack)
        try:
            thread = threading.Thread(target=run, name="realworld-parse", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
