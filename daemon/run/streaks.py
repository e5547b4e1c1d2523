"""Error streaks: failing activities in a row, across all analyzers and per capability.

The safety rules stop a session after ``consecutive_errors_max`` of them
(:func:`daemon.run.safety.check_errors`); one success ends a streak.
"""

from __future__ import annotations

from collections.abc import Mapping


class ErrorStreaks:
    """Counts failing activities since the last successful one.

    Not thread-safe: the runner counts from its coordinating thread only.
    """

    def __init__(self) -> None:
        self._overall = 0
        self._by_capability: dict[str, int] = {}

    def record(self, capability: str, success: bool) -> None:
        if success:
            self._overall = 0
            self._by_capability[capability] = 0
        else:
            self._overall += 1
            self._by_capability[capability] = self._by_capability.get(capability, 0) + 1

    @property
    def overall(self) -> int:
        """Error activities since the last successful one, across all analyzers."""
        return self._overall

    @property
    def by_capability(self) -> Mapping[str, int]:
        """Each capability's own streak (0 once it succeeded); a copy."""
        return dict(self._by_capability)
