"""``realworld daemon``: the systemd service (:mod:`daemon.service.daemon`), continuous
sessions for the configured workspaces."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from daemon.cli.common import UsageError, examples


def cmd_daemon(args: argparse.Namespace, out: TextIO) -> int:
    # The service's modules (the Prometheus client among them) load only for the service,
    # not for every command the parser knows.
    from daemon.service.daemon import DaemonUsageError, run_daemon

    try:
        return run_daemon(args.config, args.db, args.workspace or ())
    except DaemonUsageError as exc:
        raise UsageError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    """Add ``daemon`` to the ``realworld`` subcommands (:func:`daemon.cli.main.main` reads its
    ``--log-level`` when it sets up logging)."""
    parser = subparsers.add_parser(
        "daemon", parents=[common],
        help="the systemd service: continuous sessions for the configured workspaces",
        **examples("realworld daemon --workspace ~/src/app --log-level debug",
                   "systemctl --user enable --now realworld   # the unit runs: realworld daemon"))
    parser.add_argument("--workspace", action="append", metavar="PATH",
                        help="watch PATH (repeatable; default: the config's workspaces)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        default="info")
    parser.set_defaults(run=cmd_daemon)
