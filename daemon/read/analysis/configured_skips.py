"""What configuration kept out of a session's findings, as the security scanner recorded it.

The scanner counts, on each call, the findings each skip hid (``skipped_by_configuration``
in its ``result_data``: the workspace's bandit config, a per-path skip, the default, the
detect-secrets baseline). A full pass covers every file, so the session's latest full pass
says what is hidden now; an incremental call counts only the files it looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from daemon.read.analysis.rows import Row, in_time_order, result_data

SCANNER: Final = "security_scanner"


@dataclass(frozen=True)
class ConfiguredSkip:
    rule: str
    source: str  # workspace bandit config, per-path skip, default, detect-secrets baseline
    detail: str  # the pattern, the config file and key, or the baseline's name
    findings: int  # how many findings it hid


def configured_skips(activities: Sequence[Row]) -> tuple[ConfiguredSkip, ...]:
    """The skips of the latest full pass of the scanner among ``activities``, most first."""
    for row in reversed(in_time_order(activities)):
        if row.get("capability") != SCANNER:
            continue
        data = result_data(row)
        if data is None or data.get("full_pass") is not True:
            continue
        entries = data.get("skipped_by_configuration")
        if not isinstance(entries, list):
            return ()
        return tuple(skip for skip in map(_skip, entries) if skip is not None)
    return ()


def _skip(entry: Any) -> ConfiguredSkip | None:
    if not isinstance(entry, dict):
        return None
    count = entry.get("findings")
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        return None
    return ConfiguredSkip(str(entry.get("rule", "")), str(entry.get("source", "")),
                          str(entry.get("detail", "")), count)
