#!/usr/bin/env python3
"""The spec's interactive demonstration: a real session, step by step, through the Python API.

    python examples/demo_realworld_tester.py                     # 5 minutes on "."
    python examples/demo_realworld_tester.py --project ~/src/app --duration 2 --interval 15
    python examples/demo_realworld_tester.py --duration 30s --interval 5 --yes

Five steps: set up a ``RealWorldTester``, start a session, watch it live (activities,
errors, CPU and memory, each capability's calls and response times, every ``--interval``
seconds), then the analysis and the improvement report, and last the report saved to
``realworld_test_report_<session>.txt`` (``--output F`` to choose). On a terminal it waits
for Enter between steps; ``--yes`` (or a pipe) runs straight through. Ctrl-C stops the
session early and still shows and saves the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

try:
    from daemon import RealWorldTester
except ImportError:  # run from a checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from daemon import RealWorldTester

from daemon.cli.report import write_report
from daemon.durations import format_clock, parse_minutes, parse_seconds
from daemon.read.render.console import update_count

STEPS = 5
RULE = "-" * 80


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="An interactive demonstration of a real "
                                                 "test session, step by step.")
    parser.add_argument("--project", default=".", help="workspace to test (default: .)")
    parser.add_argument("--duration", default="5", type=_minutes, metavar="D",
                        help="minutes, or 30s/5m/1h (default: 5)")
    parser.add_argument("--interval", default="30", type=_seconds, metavar="S",
                        help="seconds between live updates (default: 30)")
    parser.add_argument("--db", default=None, help="event log (default: as `realworld run`)")
    parser.add_argument("--output", default=None, metavar="F",
                        help="report file (default: realworld_test_report_<session>.txt)")
    parser.add_argument("--yes", action="store_true", help="do not wait for Enter between steps")
    return parser.parse_args(argv)


def _minutes(text: str) -> float:
    try:
        return parse_minutes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def step(number: int, title: str, pause: bool) -> None:
    if pause and number > 1:
        input("\nPress Enter for the next step... ")
    print(f"\n{'=' * 80}\nStep {number}/{STEPS}: {title}\n{'=' * 80}", flush=True)


def show_update(tester: RealWorldTester, session_id: str, number: int, total: int,
                started: float, duration_s: float) -> None:
    """The spec's "With Real-Time Monitoring" figures, plus each capability's times."""
    monitor = tester.monitor_activities()
    metrics = tester.collect_metrics()
    elapsed = time.monotonic() - started
    resources = metrics["system_resources"]
    print(f"\n[Update {number}/{total}] {datetime.now():%H:%M:%S}\n{RULE}")
    print(f"  Session: {session_id}")
    print(f"  Running: {format_clock(elapsed)} / "
          f"Remaining: {format_clock(max(0.0, duration_s - elapsed))}")
    print(f"  Activities: {monitor['total_activities']}")
    print(f"  Errors: {monitor['total_errors']}")
    print(f"  CPU: {resources['cpu_percent']:.1f}%  Memory: {resources['memory_percent']:.1f}%")
    print("  Live performance:")
    for name, figures in metrics["capabilities"].items():
        print(f"    • {name}: {figures['calls']} calls, avg {figures['avg_response_ms']:.1f}ms, "
              f"p95 {figures['p95_response_ms']:.1f}ms")
    print(RULE, flush=True)


def watch(tester: RealWorldTester, session_id: str, duration_s: float,
          interval_s: float) -> None:
    """Block on the session's end, waking every ``interval_s`` for an update."""
    total = max(1, update_count(duration_s, interval_s))
    started = time.monotonic()
    number = 0
    while True:
        try:
            tester.wait(session_id, timeout=max(0.0, started + (number + 1) * interval_s
                                                - time.monotonic()))
            break
        except TimeoutError:
            number += 1
            show_update(tester, session_id, number, total, started, duration_s)
    if number < total:  # the update due at the very end races the session's end
        show_update(tester, session_id, number + 1, total, started, duration_s)


def summary(analysis: dict[str, Any]) -> None:
    session, figures = analysis["session"], analysis["summary"]
    print(f"  Status: {session['status']}")
    print(f"  Overall score: {session['overall_score']:.1f} / 100")
    print(f"  Activities: {figures['total_activities']}, errors: {figures['total_errors']}, "
          f"success rate {figures['success_rate']:.1f}%")
    print(f"  Average response time: {figures['avg_response_time']:.1f}ms")
    for item in analysis["activities_by_capability"]:
        print(f"    • {item['capability']}: {item['calls']} calls, "
              f"avg {item['avg_response']:.1f}ms")
    print(f"  Issues found: {len(analysis['top_issues'])}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pause = not args.yes and sys.stdin.isatty()
    print("REAL-WORLD TESTING - INTERACTIVE DEMONSTRATION")

    step(1, "Set up the tester", pause)
    tester = RealWorldTester(db_path=args.db)
    try:
        print(f"  Event log: {tester.db_path}")
        print(f"  Resource limits: {tester.resource_limits}")
        tester.monitor_interval = args.interval

        step(2, f"Start a {format_clock(args.duration * 60)} session on {args.project}", pause)
        try:
            session_id = tester.start_test_session(args.project, args.duration)
        except ValueError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
        print(f"  Session started: {session_id} (it runs in the background)")

        step(3, f"Watch it live (an update every {args.interval:g} s; Ctrl-C ends it early)",
             pause=False)
        try:
            watch(tester, session_id, args.duration * 60, args.interval)
        except KeyboardInterrupt:
            print("\n  Interrupted: stopping the session.")
        final = tester.stop_session(session_id)
        print(f"  Session ended: {final['status']}, {final['total_activities']} activities")

        step(4, "Results and the improvement report", pause)
        summary(tester.analyze_session_results(session_id))
        report = tester.generate_improvement_report(session_id)
        print("\n" + report)

        step(5, "Save the report", pause)
        target = Path(args.output or f"realworld_test_report_{session_id}.txt")
        write_report(target, report)
        print(f"  Report saved to {target}")
        return 0
    finally:
        tester.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
