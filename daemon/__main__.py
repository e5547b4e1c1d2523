"""``python -m daemon`` is the ``realworld`` command."""

import sys

from daemon.cli import main

sys.exit(main())
