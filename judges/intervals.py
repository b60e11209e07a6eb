"""95% intervals for the numbers players compare: a win rate (Wilson) and a mean (Student's t).

They sit in ``judges``, the lowest layer that reports on results, so ``arena`` (per-revision
stats) and ``learning`` (the promotion gate) share one definition."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion. Written out (four lines) because ties
    count half, so ``successes`` may be fractional, which scipy's binomtest refuses."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): the mean with its 95% Student-t interval. One value has a mean but no
    interval (None, None); no values, nothing. Values all equal give a zero-width interval
    (scipy would answer NaN: the spread is zero, not unknown)."""
    n = len(values)
    if n == 0:
        return None, None, None
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None, None
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, n - 1)) * float(sem)
    return mean, mean - half, mean + half
