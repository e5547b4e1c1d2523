"""``realworld scenario NAME --project P``: one of the spec's test scenarios and its verdict.

Exit 0 when every metric is within its bar, 1 when one is not, 2 on bad input. The
project is copied first (``--workdir``, else a temporary directory removed afterwards):
scenarios edit, replicate and break the copy, never the user's tree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, TextIO

from analyzers.common.private_files import make_private_dirs
from daemon.cli.common import EXIT_FAILED, EXIT_OK, UsageError, examples
from daemon.config import load_config, resolve_db_path
from daemon.durations import parse_minutes
from daemon.scenarios import SCENARIOS
from daemon.scenarios.scratch import ProjectError, check_project
from daemon.scenarios.settings import (
    LOAD_CONCURRENCY,
    LOAD_FILES,
    LOAD_SEARCHES,
    Settings,
)
from daemon.scenarios.verdict import BarError, judge, render_text, to_json, with_overrides


class ScenarioUsageError(UsageError):
    """Bad input to ``realworld scenario``; the message is one line (exit 2)."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _duration_s(text: str | None, default_s: float) -> float:
    if text is None:
        return default_s
    try:
        return parse_minutes(text) * 60.0
    except ValueError as exc:
        raise ScenarioUsageError(f"--duration: {exc}") from None


def _workdir(root: str | None, project: Path, name: str) -> tuple[Path, bool]:
    """A fresh directory for this run's copies, and whether to remove it afterwards."""
    if root is None:
        return Path(tempfile.mkdtemp(prefix=f"realworld-scenario-{name}-")), True
    base = Path(root).expanduser().resolve()
    if base == project or project in base.parents:
        raise ScenarioUsageError(f"--workdir {root} is inside the project: the copy would "
                                 "copy itself")
    try:
        make_private_dirs(base)
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base)), False
    except OSError as exc:
        raise ScenarioUsageError(f"--workdir {root}: {exc.strerror or exc}") from None


def cmd_scenario(args: argparse.Namespace, out: TextIO) -> int:
    scenario = SCENARIOS[args.name]
    try:
        with_overrides(scenario.bars, args.bar or ())  # bad overrides fail before any work
        project = check_project(Path(args.project).expanduser())
    except (BarError, ProjectError) as exc:
        raise ScenarioUsageError(str(exc)) from None
    duration_s = _duration_s(args.duration, scenario.default_duration_s)
    config = load_config(args.config)
    db_path = Path(resolve_db_path(args.db, config)).resolve()
    workdir, temporary = _workdir(args.workdir, project, scenario.name)
    settings = Settings(project=project, workdir=workdir, db_path=db_path, config=config,
                        duration_s=duration_s, files=args.files, searches=args.searches,
                        concurrency=args.concurrency, edits=args.edits)
    bars = with_overrides(scenario.bars_for(settings), args.bar or ())
    try:
        outcome = scenario.run(settings)
    except ProjectError as exc:
        raise ScenarioUsageError(str(exc)) from None
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    verdict = judge(scenario.name, outcome, bars)
    if args.json:
        out.write(json.dumps(to_json(verdict), indent=2) + "\n")
    else:
        out.write(render_text(verdict))
    return EXIT_OK if verdict.passed else EXIT_FAILED


def _defaults_help() -> str:
    return ", ".join(f"{s.name} {s.default_duration_s / 60.0:g} min" for s in SCENARIOS.values())


def _bars_help() -> str:
    lines = []
    for scenario in SCENARIOS.values():
        bars = ", ".join(f"{b.metric} {b.describe()}" for b in scenario.bars)
        lines.append(f"{scenario.name}: {bars}")
    return "; ".join(lines)


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``scenario`` to the ``realworld`` subcommands."""
    parser = subparsers.add_parser(
        "scenario", parents=[common],
        help="one of the spec's test scenarios on a copy of a project, with a verdict",
        **examples("realworld scenario load --project ~/src/app",
                   "realworld scenario continuous --project . --duration 10m --json"))
    parser.add_argument("name", choices=tuple(SCENARIOS), metavar="NAME",
                        help=f"one of: {', '.join(SCENARIOS)}")
    parser.add_argument("--project", default=".", metavar="P",
                        help="the project to copy (default: the current directory)")
    parser.add_argument("--duration", metavar="D",
                        help="the longest each scenario session may run, first pass "
                             "included (load and learning end when done; continuous and "
                             "integration edit for what is left): minutes, or 30s/5m/1h "
                             f"(default: {_defaults_help()})")
    parser.add_argument("--bar", action="append", metavar="NAME=VALUE",
                        help=f"override a bar (repeatable). Defaults: {_bars_help()}")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--workdir", metavar="DIR",
                        help="keep the scenario's copies under DIR (default: a temporary "
                             "directory, removed afterwards)")
    parser.add_argument("--files", type=_positive, default=LOAD_FILES, metavar="N",
                        help=f"load: files to index (default: {LOAD_FILES}); a smaller "
                             "project is replicated inside its copy until it has N")
    parser.add_argument("--searches", type=_positive, default=LOAD_SEARCHES, metavar="N",
                        help=f"load: searches of real symbols (default: {LOAD_SEARCHES})")
    parser.add_argument("--concurrency", type=_positive, default=LOAD_CONCURRENCY,
                        metavar="N", help="load: operations at once (default: "
                                          f"{LOAD_CONCURRENCY})")
    parser.add_argument("--edits", type=_positive, default=None, metavar="N",
                        help="continuous, integration: edits the driver makes (default: one "
                             "every 5 seconds of the duration, at least 3)")
    parser.set_defaults(run=cmd_scenario)
