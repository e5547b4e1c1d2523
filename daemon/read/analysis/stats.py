"""Small descriptive statistics for the analysis engine, over plain float sequences.

Every function accepts an empty sequence and answers 0.0 (or an empty result) rather
than raising, because an idle session is a normal thing to analyse.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from analyzers.common.percentiles import percentile

__all__ = ["mean", "median", "outliers", "percentile"]


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def outliers(values: Sequence[float], sigmas: float = 3.0) -> list[float]:
    """Values farther than ``sigmas`` population standard deviations from the mean.

    With n values no z-score can exceed (n-1)/sqrt(n), so fewer than 11 values
    never yield a 3-sigma outlier; that is the statistic, not a bug.
    """
    if len(values) < 2:
        return []
    centre = mean(values)
    spread = statistics.pstdev(values, centre)
    if spread == 0:
        return []
    return [v for v in values if abs(v - centre) > sigmas * spread]


@dataclass(frozen=True)
class LinearFit:
    slope: float  # y units per x unit
    intercept: float
    r_squared: float


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Ordinary least squares of ys on xs.

    A series with no spread in x has no slope (0.0, R² 0.0). A perfectly flat y
    series is fitted exactly by a flat line, so it reports R² 1.0 with slope 0.0.
    """
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if len(xs) < 2:
        return LinearFit(0.0, ys[0] if ys else 0.0, 0.0)
    mx, my = mean(xs), mean(ys)
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0:
        return LinearFit(0.0, my, 0.0)
    slope = sxy / sxx
    r_squared = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    return LinearFit(slope, my - slope * mx, r_squared)
