"""The one percentile every figure uses: the analysis's p95, the probes' p50/p95, the API's.

Linear interpolation between the closest ranks (numpy's default, ``method="linear"``;
Excel's ``PERCENTILE.INC``), chosen over nearest rank because with the few calls a
short session makes, nearest rank simply returns the maximum. It lives here, the
lowest package, so the analyzers and the daemon cannot disagree about a p95.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100) of ``values``; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
