"""Is one set of per-call times really slower than another? Two answers over plain floats.

* :func:`mann_whitney_greater`: the one-sided p-value of the Mann-Whitney U test that the
  current calls tend to take longer than the baseline's (normal approximation, with the
  tie correction and the continuity correction: scipy's ``mannwhitneyu(current, baseline,
  alternative="greater", method="asymptotic")``). Hand-written because scipy is not a
  dependency and would be the only compiled one a regression check needs; the test is
  thirty lines and its tests check it against the exact permutation distribution.
* :func:`ratio_interval`: the ratio of the medians (current / baseline) with a percentile
  bootstrap interval, from a fixed seed so the same sessions always print the same
  interval.

Rank-based and median-based on purpose: response times are skewed (a cold first call can
be a hundred times the rest), and one such call moves a mean but not a rank.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Final

from daemon.read.analysis.stats import median, percentile

BOOTSTRAP_RESAMPLES: Final = 1000
BOOTSTRAP_SEED: Final = 20260203
#: Calls per side the bootstrap resamples; a bigger side is first subsampled (seeded), which
#: keeps a compare of hour-long sessions under a second at the price of a slightly wider
#: interval than all their calls would give.
BOOTSTRAP_MAX_CALLS: Final = 500


@dataclass(frozen=True)
class RatioInterval:
    ratio: float  # median(current) / median(baseline)
    low: float
    high: float
    confidence: float  # 0.95 for a 95% interval


def mann_whitney_greater(baseline: Sequence[float], current: Sequence[float]) -> float:
    """One-sided p-value that ``current`` is stochastically greater than ``baseline``.

    1.0 when either side is empty or every value is tied: no evidence of anything.
    """
    n_base, n_cur = len(baseline), len(current)
    if not n_base or not n_cur:
        return 1.0
    pooled = sorted([(value, False) for value in baseline] + [(value, True) for value in current])
    rank_sum_current = 0.0
    tie_term = 0.0
    position = 1
    for _, group in groupby(pooled, key=lambda item: item[0]):
        members = list(group)
        size = len(members)
        average_rank = position + (size - 1) / 2.0  # tied values share their mean rank
        rank_sum_current += average_rank * sum(1 for _, is_current in members if is_current)
        tie_term += size ** 3 - size
        position += size
    total = n_base + n_cur
    u_current = rank_sum_current - n_cur * (n_cur + 1) / 2.0
    mean_u = n_base * n_cur / 2.0
    variance = n_base * n_cur / 12.0 * ((total + 1) - tie_term / (total * (total - 1)))
    if variance <= 0:
        return 1.0
    z = (u_current - mean_u - 0.5) / math.sqrt(variance)
    return min(1.0, 0.5 * math.erfc(z / math.sqrt(2.0)))


def ratio_interval(baseline: Sequence[float], current: Sequence[float], *,
                   confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED,
                   max_calls: int = BOOTSTRAP_MAX_CALLS) -> RatioInterval | None:
    """The ratio of medians with its bootstrap interval; None without a positive baseline
    median (no ratio to speak of) or without current calls."""
    if not baseline or not current:
        return None
    base_median = median(baseline)
    if base_median <= 0:
        return None
    rng = random.Random(seed)
    base = _bounded(baseline, max_calls, rng)
    cur = _bounded(current, max_calls, rng)
    ratios = []
    for _ in range(resamples):
        resampled_base = median(rng.choices(base, k=len(base)))
        if resampled_base > 0:
            ratios.append(median(rng.choices(cur, k=len(cur))) / resampled_base)
    if not ratios:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    return RatioInterval(median(current) / base_median, percentile(ratios, tail),
                         percentile(ratios, 100.0 - tail), confidence)


def _bounded(values: Sequence[float], limit: int, rng: random.Random) -> list[float]:
    return list(values) if len(values) <= limit else rng.sample(list(values), limit)
