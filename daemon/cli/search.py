"""``realworld search TEXT``: ranked code search in the index the sessions keep.

Prints ``path:line:col: text`` per hit, best first (definitions, then whole
identifiers, then substrings; see :mod:`analyzers.code_index.query`), or a JSON list
with ``--json``. Paths are shown relative to the current directory when the file
lies below it, else absolute, so an editor or terminal can open them as printed.

The index is found the way the indexer chose it (:mod:`analyzers.common.locations`):
``--index``, then ``$REALWORLD_INDEX_DB``, then ``<log stem>.index.db`` beside the
event log (``--db`` and its defaults), then the per-workspace cache file of the
current directory or the nearest parent that has one.

Errors are :class:`SearchUsageError`, a :class:`~daemon.cli.common.UsageError`: one line,
exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from analyzers.base import safe_text
from analyzers.code_index.query import DEFAULT_LIMIT, BadQuery, Hit, search
from analyzers.code_index.store import IndexStore, IndexUnavailable
from analyzers.common.locations import INDEX_ENV, candidates, index_path_for_log
from analyzers.common.printable import printable
from daemon.cli.common import EXIT_OK, UsageError
from daemon.config import load_config, resolve_db_path


class SearchUsageError(UsageError):
    """Bad usage or input for ``realworld search``: one line, exit 2."""


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``search`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "search", parents=[common],
        help="ranked code search in the index: definitions, identifiers, substrings",
        description="Search the code index the sessions keep. Plain text matches "
                    "case-insensitively (exact case ranks first); --regex uses Python's re.")
    parser.add_argument("text", metavar="TEXT", help="what to search for")
    parser.add_argument("--regex", action="store_true", help="TEXT is a Python regex")
    parser.add_argument("--symbol", action="store_true",
                        help="only definitions from the symbol table (Python)")
    parser.add_argument("--path", metavar="GLOB",
                        help="only files whose path matches GLOB (a glob without '/' also "
                             "matches the file name alone: '*.py')")
    parser.add_argument("--limit", type=_positive, default=DEFAULT_LIMIT, metavar="N",
                        help=f"at most N hits (default: {DEFAULT_LIMIT})")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.add_argument("--index", metavar="FILE",
                        help=f"the code index (default: ${INDEX_ENV}, then beside the event "
                             "log, then the workspace's cache file)")
    parser.set_defaults(run=cmd_search)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    location = find_index(args)
    try:
        store = IndexStore.open(location, readonly=True)
    except IndexUnavailable as exc:
        raise SearchUsageError(f"{exc}; run a session to (re)build it: "
                               "realworld run --project P --once") from None
    try:
        hits = search(store, args.text, regex=args.regex, symbol=args.symbol,
                      path_glob=args.path, limit=args.limit)
    except BadQuery as exc:
        raise SearchUsageError(str(exc)) from None
    finally:
        store.close()
    cwd = Path.cwd()
    if args.json:
        out.write(json.dumps([hit_json(h, cwd) for h in hits], indent=2) + "\n")
    else:
        for hit in hits:
            out.write(hit_line(hit, cwd) + "\n")
    return EXIT_OK


def find_index(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Path:
    """The index file to read, or a :class:`SearchUsageError` saying where we looked."""
    env = os.environ if env is None else env
    if getattr(args, "index", None):
        explicit = Path(args.index).expanduser()
        if not explicit.is_file():
            raise SearchUsageError(f"no code index at {explicit}")
        return explicit
    looked: list[Path] = []
    for candidate in _default_candidates(args, env):
        if candidate.is_file():
            return candidate
        if candidate.absolute() not in looked:
            looked.append(candidate.absolute())
    shown = ", ".join(str(p) for p in looked[:4]) + (", ..." if len(looked) > 4 else "")
    raise SearchUsageError(
        f"no code index found (looked at {shown}); run a session on the workspace first "
        "(realworld run --project P --once) or name one with --index")


def _default_candidates(args: argparse.Namespace, env: Mapping[str, str]) -> Iterator[Path]:
    if env.get(INDEX_ENV):
        yield Path(env[INDEX_ENV]).expanduser()
    config = load_config(getattr(args, "config", None))
    yield index_path_for_log(resolve_db_path(getattr(args, "db", None), config, env=env))
    here = Path.cwd()
    for directory in (here, *here.parents):
        # Only the per-workspace defaults: the explicit and log-based ones are above.
        yield from candidates(directory, env={k: v for k, v in env.items() if k != INDEX_ENV})


def display_path(hit: Hit, cwd: Path) -> str:
    """Relative to ``cwd`` when the file lies below it, else absolute."""
    if not hit.workspace:
        return hit.path
    absolute = os.path.join(hit.workspace, *hit.path.split("/"))
    try:
        relative = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative == os.pardir or relative.startswith(os.pardir + os.sep) else (
        relative)


def hit_line(hit: Hit, cwd: Path) -> str:
    """``path:line:col: text``, with anything that could break the line or the terminal
    escaped."""
    return f"{printable(display_path(hit, cwd))}:{hit.line}:{hit.col}: {printable(hit.text)}"


def hit_json(hit: Hit, cwd: Path) -> dict[str, Any]:
    return {
        "path": _json_path(hit.path),
        "workspace": _json_path(hit.workspace),
        "file": _json_path(display_path(hit, cwd)),
        "line": hit.line,
        "col": hit.col,
        "text": safe_text(hit.text),
        "kind": hit.kind,
        "score": hit.score,
    }


def _json_path(path: str) -> str:
    """Bytes of a non-UTF-8 name as ``\\xNN`` (JSON cannot carry lone surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path
