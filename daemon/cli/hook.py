"""``realworld hook [FILES...]``: the pre-commit hook: one pass over the named files only.

pre-commit runs the hook from the repository's root with the staged files' names as
arguments (``.pre-commit-hooks.yaml``). Each name becomes a workspace-relative path; the
session is a single pass (mode ``once``) over those files, so a commit of two files scans
two files, whatever the repository's size. The log goes to the state directory
(:func:`daemon.config.hook_db`: one file per repository), never into the repository.

The verdict is about the code, not about the tool: it fails (exit 1) on an open finding
of the files at ``--fail-on`` (default ``high``) or worse, naming each, and on a baseline
that is not applied or matches nothing; how fast the pass ran is measured and logged but
does not block a commit. Nothing is printed when it passes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path, PurePosixPath
from typing import Any, Final, TextIO

from analyzers.common.private_files import make_private_dirs
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, examples
from daemon.cli.run import RunOptions, baseline_failed, run_foreground
from daemon.config import hook_db, load_config, resolve_db_path
from daemon.log.database import Database
from daemon.read.analysis.gates import (
    FAIL_ON_CONFIDENCES,
    FAIL_ON_LEVELS,
    at_or_above,
    finding_reason,
)
from daemon.read.queries import open_findings

DEFAULT_FAIL_ON: Final = "high"


class HookUsageError(UsageError):
    """A file outside the project, or a project that is not a directory (exit 2)."""


def workspace_paths(project: Path, names: list[str]) -> tuple[str, ...]:
    """Each name (relative to the current directory, as pre-commit passes them, or
    absolute) as a ``/``-separated path relative to ``project``."""
    found: dict[str, None] = {}
    for name in names:
        # Not resolve(): a staged symlink is checked as the link, not as what it points to.
        full = Path(os.path.abspath(name))
        try:
            relative = full.relative_to(project)
        except ValueError:
            raise HookUsageError(f"{name} is not inside the project {project}") from None
        if relative.parts:
            found[PurePosixPath(*relative.parts).as_posix()] = None
    return tuple(found)


def cmd_hook(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    project = Path(os.path.abspath(Path(args.project).expanduser()))
    if not project.is_dir():
        raise HookUsageError(f"project path does not exist or is not a directory: "
                             f"{args.project}")
    files = workspace_paths(project, args.files)
    if not files:
        return EXIT_OK  # nothing staged: nothing to look at
    default = hook_db(project)
    db_path = resolve_db_path(args.db, config, default=default)
    if db_path == default:
        make_private_dirs(default.parent)  # 0700, as the daemon's own state directory
    options = RunOptions(project=project, db_path=db_path, minutes=0.0, mode="once",
                         monitor_interval=config.monitor_interval, quiet=True, report=False,
                         save_report=None, report_format="text", files=files)
    outcome = run_foreground(options, config, out)
    if outcome.status == "error":
        sys.stderr.write(f"realworld: the session ended in error: {outcome.reason}\n")
        return EXIT_FAILED
    db = Database.open(db_path)
    failed = baseline_failed(db, outcome.session_id)
    # The workspace's open findings, of the named files only: one committed earlier with
    # --no-verify does not block every later commit.
    named = set(files)
    flagged = at_or_above([r for r in open_findings(db, outcome.session_id)
                           if r["path"] in named], args.fail_on, args.fail_on_confidence)
    if flagged:
        sys.stderr.write(f"realworld: FAIL: {finding_reason(flagged, args.fail_on)}\n")
    return EXIT_OK if args.exit_zero or not (failed or flagged) else EXIT_FAILED


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``hook`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "hook", parents=[common],
        help="the pre-commit hook: one pass over the named files, failing on findings",
        **examples("realworld hook pkg/app.py settings.ini   # pre-commit, two files staged",
                   "realworld hook --fail-on medium --fail-on-confidence high pkg/app.py"))
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="files to check (pre-commit passes the staged ones)")
    parser.add_argument("--project", default=".", metavar="P",
                        help="the repository (default: the current directory)")
    parser.add_argument("--fail-on", choices=FAIL_ON_LEVELS, default=DEFAULT_FAIL_ON,
                        help=f"exit 1 on an open finding of this severity or worse "
                             f"(default: {DEFAULT_FAIL_ON})")
    parser.add_argument("--fail-on-confidence", choices=FAIL_ON_CONFIDENCES, default=None,
                        help="count only findings at least this sure (default: any)")
    parser.add_argument("--exit-zero", action="store_true",
                        help="print what was found but exit 0")
    parser.set_defaults(run=cmd_hook)
