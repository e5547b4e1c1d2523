"""``python -m daemon`` is the ``realworld`` command."""

import sys

from daemon.cli.main import main

sys.exit(main())
