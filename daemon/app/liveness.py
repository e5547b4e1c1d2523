"""Is the process that runs a session still there? (Sessions record their pid and host.)"""

from __future__ import annotations

import socket
from datetime import datetime

import psutil


def process_alive(pid: int | None, host: str | None, since: str | None = None) -> bool | None:
    """True or False for a session of this host; None when it cannot be told from here.

    ``since`` is when the session recorded the pid: a process born later only reuses it.
    """
    if pid is None or host is None or host != socket.gethostname():
        return None
    try:
        process = psutil.Process(pid)
        created = process.create_time()
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # exited; only its parent has not collected it yet
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.Error:
        return None
    if since:
        try:
            recorded = datetime.fromisoformat(since).timestamp()
        except ValueError:
            return True
        if created > recorded + 1.0:
            return False
    return True
