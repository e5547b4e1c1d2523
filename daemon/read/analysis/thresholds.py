"""The numbers the analysis judges a session by, each with the reason for its value.

Grades and the UX quality score come from :mod:`daemon.read.analysis.grades` (boundaries there).

* **Percentages.** Success rate is ``successes / calls * 100``. A session (or a
  capability) with no calls has a success rate of **0.0**, not 100: nothing was shown
  to work, and a quality gate must not pass a session that measured nothing. Averages
  of nothing are 0.0; the grades and UX score of a capability without timed calls are
  ``None``.
* **p95** interpolates linearly between closest ranks
  (:func:`daemon.read.analysis.stats.percentile`).
* **Outliers** are calls farther than 3 population standard deviations from their
  capability's mean (the spec's ">3 std dev").
* **Worked well**: success rate >= 95% *and* average response < 500 ms, the spec's
  "High success rate (100.0%) and fast response (245ms)" (its 95.0% example is
  included, so the bound is inclusive; 500 ms is no longer "Excellent").
* **Worked poorly**: success rate < 80% *or* average response > 2000 ms, the spec's
  "Low success rate (60.0%) or slow response (2134ms)". 2000 ms itself is not slow:
  the UX scale calls only ">2000ms" slow.
* **Full passes are not judged for speed.** A call over the whole workspace (the runner
  marks it ``full_pass`` in ``result_data``) takes as long as the workspace is big: a
  first pass over 1,000 files taking 8 s says nothing about how fast a change is
  answered. The latency bounds (slow, worked well/poorly, outliers, degradation) apply
  to the other calls, the change batches; the tables still show every call's times.
* **Memory leak**: least-squares slope of process RSS over time. Samples are the
  ``performance_metrics`` rows of capability ``realworld``, type ``memory_usage``, unit
  ``MB`` (periodic, so unbiased by bursts of work) when there are at least two, else the
  activities' ``memory_after_mb``. A leak is suspected when there are >= 5 samples
  spanning >= 5 minutes, the slope is >= 10 MB/hour, R² >= 0.8 (growth is steady, not
  one step such as an index being loaded) and the fitted growth over the span is
  >= 20 MB (a few MB of warm-up is not worth an issue). Below 5 samples over 5 minutes
  the trend is not shown as a rate at all (a slope over half a second, extrapolated to
  an hour, is noise).
* **Degradation**: per capability (mixing capabilities would confuse a change of
  workload with a slowdown), timed calls in time order, needing >= 9 (three per third).
  Degraded when the median of the last third is > 1.5x the median of the first third
  and at least 50 ms slower (so 2 ms -> 4 ms jitter is not a finding). Medians below
  1 ms count as 1 ms so the ratio stays finite.

The severities these numbers lead to are tabled in :mod:`daemon.read.analysis.issues`
and :mod:`daemon.read.analysis.suggestions`.
"""

from __future__ import annotations

from typing import Final

WELL_MIN_SUCCESS: Final = 95.0
WELL_MAX_AVG_MS: Final = 500.0  # exclusive
POOR_MIN_SUCCESS: Final = 80.0  # below this is poor
SLOW_AVG_MS: Final = 2000.0  # above this is slow
VERY_SLOW_AVG_MS: Final = 5000.0  # above this is poor / critical
RELIABLE_SUCCESS: Final = 95.0  # below this a reliability suggestion is made

ISSUE_MEDIUM_SUCCESS: Final = 85.0
ISSUE_HIGH_SUCCESS: Final = 70.0
CRITICAL_SUCCESS: Final = 50.0
CRITICAL_MIN_CALLS: Final = 3

OUTLIER_SIGMAS: Final = 3.0

LEAK_MIN_SAMPLES: Final = 5
LEAK_MIN_SPAN_S: Final = 300.0
LEAK_MIN_SLOPE_MB_H: Final = 10.0
LEAK_MIN_R2: Final = 0.8
LEAK_MIN_GROWTH_MB: Final = 20.0
LEAK_HIGH_SLOPE_MB_H: Final = 100.0

DEGRADE_MIN_CALLS: Final = 9
DEGRADE_RATIO: Final = 1.5
DEGRADE_MIN_DELTA_MS: Final = 50.0
DEGRADE_HIGH_RATIO: Final = 3.0

RECURRING_ERROR_MIN: Final = 3
