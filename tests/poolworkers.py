"""Finding an analyzer's worker processes from a test, as ``ps`` would: by the label that
ends their command line (:func:`analyzers.common.workerpool.worker_label`)."""

from __future__ import annotations

import contextlib

import psutil

from analyzers.common.workerpool import Initializer, worker_label


def live_workers(initializer: Initializer) -> list[psutil.Process]:
    """This process's live children started by a pool with ``initializer``."""
    label = worker_label(initializer)
    found = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.cmdline()[-1:] == [label] and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found
