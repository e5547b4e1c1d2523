#!/usr/bin/env python3
"""The spec's system verification: is everything there, and does a real session work?

    python examples/verify_realworld_system.py                # on a temporary event log
    python examples/verify_realworld_system.py --db realworld_testing.db --config my.toml

Checks, one ``[OK]`` or ``[FAIL]`` line each: every method of the spec's API exists on
``RealWorldTester``; the configuration (``--config``, else the XDG file, else the
defaults) is valid; the spec's five tables are in the event log with their columns, and
its indexes; every analyzer loads; and a real session of a few seconds on a small
temporary workspace records a measured call of every analyzer, analyses and reports. Exit
0 when every check passes, 1 when one fails.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

try:
    from daemon import RealWorldTester
except ImportError:  # run from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from daemon import RealWorldTester

from analyzers.registry import discover
from daemon.config import Config, ConfigError, load_config
from daemon.log.schema import PROJECTION_DDL, SPEC_TABLES

#: The spec's "Core Methods" of RealWorldTester.
SPEC_METHODS = ("start_test_session", "monitor_activities", "collect_metrics",
                "analyze_session_results", "generate_improvement_report", "stop_session")
SPEC_LIMITS = ("cpu_percent_max", "memory_percent_max", "disk_percent_max",
               "consecutive_errors_max")
SESSION_SECONDS = 3.0
WORKSPACE = {
    "app/main.py": "from app.util import double\n\n\ndef main():\n    return double(21)\n",
    "app/util.py": "def double(x):\n    return 2 * x\n",
    "README.md": "# a small workspace for the verification session\n",
}


class Checks:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def check(self, name: str, run: Callable[[], str]) -> None:
        """``run`` returns what it found, or raises with what is wrong."""
        try:
            found = run()
        except Exception as exc:  # any failure of a check is its [FAIL] line
            self.failed += 1
            print(f"[FAIL] {name}: {exc}", flush=True)
        else:
            self.passed += 1
            print(f"[OK]   {name}: {found}", flush=True)


def spec_columns() -> dict[str, list[str]]:
    """Each spec table's columns, as its DDL (the spec's, verbatim) creates them."""
    with closing(sqlite3.connect(":memory:")) as conn:
        for table in SPEC_TABLES:
            conn.executescript(PROJECTION_DDL[table])
        return {table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                for table in SPEC_TABLES}


def spec_indexes() -> set[str]:
    return {name for table in SPEC_TABLES
            for name in re.findall(r"CREATE INDEX (\w+)", PROJECTION_DDL[table])}


def check_methods() -> str:
    missing = [m for m in SPEC_METHODS if not callable(getattr(RealWorldTester, m, None))]
    if missing:
        raise AssertionError(f"missing {', '.join(missing)}")
    return f"{len(SPEC_METHODS)} methods: {', '.join(SPEC_METHODS)}"


def load(path: str | None) -> tuple[Config, str | None]:
    """The configuration, or the defaults and what is wrong with it."""
    try:
        return load_config(path), None
    except ConfigError as exc:
        return Config(), str(exc)


def check_config(config: Config, problem: str | None) -> str:
    if problem:
        raise AssertionError(problem)
    where = config.source or "the defaults (no config file)"
    return (f"{where}: default_duration {config.default_duration:g} min, monitor_interval "
            f"{config.monitor_interval:g} s, resource limits {config.resource_limits.as_dict()}")


def check_limits(tester: RealWorldTester) -> str:
    missing = [k for k in SPEC_LIMITS if k not in tester.resource_limits]
    if missing:
        raise AssertionError(f"resource_limits lacks {', '.join(missing)}")
    return ", ".join(f"{k} {tester.resource_limits[k]}" for k in SPEC_LIMITS)


def check_tables(db_path: str) -> str:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        for table, columns in spec_columns().items():
            present = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            if not present:
                raise AssertionError(f"table {table} is missing")
            if present[:len(columns)] != columns:
                raise AssertionError(f"{table} has columns {present}, the spec's are {columns}")
    return ", ".join(SPEC_TABLES)


def check_indexes(db_path: str) -> str:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        present = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    missing = sorted(spec_indexes() - present)
    if missing:
        raise AssertionError(f"missing {', '.join(missing)}")
    return ", ".join(sorted(spec_indexes()))


def check_analyzers() -> str:
    found = discover()
    if found.errors:
        raise AssertionError("; ".join(f"{e.name}: {e.error}" for e in found.errors))
    return ", ".join(a.name for a in found.analyzers)


def check_session(tester: RealWorldTester, workspace: Path) -> str:
    for name, text in WORKSPACE.items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text, encoding="utf-8")
    session_id = tester.start_test_session(workspace, SESSION_SECONDS / 60)
    final = tester.wait(session_id, timeout=SESSION_SECONDS + 60)
    if final["status"] != "completed":
        raise AssertionError(f"session {session_id} ended {final['status']}")
    analysis = tester.analyze_session_results(session_id)
    measured = {item["capability"] for item in analysis["activities_by_capability"]}
    expected = {a.name for a in discover().analyzers}
    if not expected <= measured:
        raise AssertionError(f"no measured call of {', '.join(sorted(expected - measured))}")
    report = tester.generate_improvement_report(session_id)
    if "IMPROVEMENT REPORT" not in report:
        raise AssertionError("the improvement report has no banner")
    return (f"{session_id}: {analysis['summary']['total_activities']} activities of "
            f"{len(measured)} capabilities, score {analysis['session']['overall_score']:.1f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Verify the real-world testing system.")
    parser.add_argument("--db", help="the event log to check (default: a temporary one)")
    parser.add_argument("--config", help="the config file to check (default: the XDG one)")
    args = parser.parse_args(argv)
    print("REAL-WORLD TESTING - SYSTEM VERIFICATION\n")
    checks = Checks()
    checks.check("API methods", check_methods)
    config, problem = load(args.config)
    checks.check("configuration", lambda: check_config(config, problem))
    checks.check("analyzers", check_analyzers)
    with tempfile.TemporaryDirectory(prefix="realworld-verify-") as scratch:
        db_path = args.db or str(Path(scratch) / "realworld_testing.db")
        tester = RealWorldTester(db_path=db_path, config=config)
        try:
            checks.check("resource limits", lambda: check_limits(tester))
            checks.check("database tables", lambda: check_tables(tester.db_path))
            checks.check("database indexes", lambda: check_indexes(tester.db_path))
            checks.check("a real session", lambda: check_session(tester,
                                                                 Path(scratch) / "workspace"))
        finally:
            tester.close()
    total = checks.passed + checks.failed
    if checks.failed:
        print(f"\n{checks.failed} of {total} checks FAILED")
        return 1
    print(f"\nAll {total} checks passed: the system is ready.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
