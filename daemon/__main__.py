"""``python -m daemon`` is the ``realworld`` command."""

from daemon.cli.main import entry

entry()
