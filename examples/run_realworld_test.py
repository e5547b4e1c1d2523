#!/usr/bin/env python3
"""The spec's command-line runner, verbatim: every flag is `realworld run`'s.

    python examples/run_realworld_test.py                      # quick 2-minute test
    python examples/run_realworld_test.py --project /path/to/project --duration 10
    python examples/run_realworld_test.py --duration 60 --monitor-interval 60
    python examples/run_realworld_test.py --db /custom/testing.db
    python examples/run_realworld_test.py --quiet
    python examples/run_realworld_test.py --no-report
    python examples/run_realworld_test.py --save-report my_report.txt
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from daemon.cli.main import main
except ImportError:  # run from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from daemon.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
