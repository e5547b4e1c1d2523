#!/usr/bin/env python3
"""The spec's command-line runner, verbatim: every flag is `realworld run`'s.

    python examples/run_realworld_test.py                      # quick 2-minute test
    python examples/run_realworld_test.py --project /path/to/project --duration 10
    python examples/run_realworld_test.py --duration 60 --monitor-interval 60
    python examples/run_realworld_test.py --db /custom/testing.db
    python examples/run_realworld_test.py --quiet
    python examples/run_realworld_test.py --no-report
    python examples/run_realworld_test.py --save-report my_report.txt

One difference from `realworld run`: the report is also written to
``realworld_test_report_<session>.txt`` in the current directory, the file the spec's CI
example uploads. ``--save-report F`` writes F instead; ``--no-report`` skips the report,
the file included (with ``--save-report F`` too it writes F only, as `realworld run` does).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from daemon.cli.main import main
    from daemon.cli.run import SESSION_PLACEHOLDER
except ImportError:  # run from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from daemon.cli.main import main
    from daemon.cli.run import SESSION_PLACEHOLDER

DEFAULT_REPORT = f"realworld_test_report_{SESSION_PLACEHOLDER}.txt"


def run_arguments(argv: Sequence[str]) -> list[str]:
    """``realworld run``'s arguments: the runner's, plus the default report file."""
    # Parsed as `realworld run` parses them (abbreviations too), only for these two flags.
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--save-report")
    peek.add_argument("--no-report", action="store_true")
    peek.add_argument("-h", "--help", action="store_true")
    known, _ = peek.parse_known_args(list(argv))
    if known.save_report or known.no_report or known.help:
        return ["run", *argv]
    return ["run", *argv, "--save-report", DEFAULT_REPORT]


if __name__ == "__main__":
    sys.exit(main(run_arguments(sys.argv[1:])))
