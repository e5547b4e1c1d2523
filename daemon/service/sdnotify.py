"""systemd's notify protocol: one datagram per message to ``$NOTIFY_SOCKET``.

Written by hand because it is a dozen lines and the PyPI wrappers add nothing
but a dependency; without ``NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        # An address starting with "@" lives in the abstract namespace.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog_seconds = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """How often to ping: half of ``WatchdogSec``, or None when the unit sets none."""
        return None if self._watchdog_seconds is None else self._watchdog_seconds / 2

    def notify(self, **fields: str) -> bool:
        if not self._address:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError:
            return False  # systemd went away; nothing to tell
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(READY="1", STATUS=status) if status else self.notify(READY="1")

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG="1")

    def stopping(self) -> bool:
        return self.notify(STOPPING="1")


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000
    except ValueError:
        return None
