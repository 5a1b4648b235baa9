"""The confidence interval of one configuration's score: the Wilson score interval.

The per-text score is 1/0 for single-label (its mean is the accuracy, a binomial proportion) and
each text's own F1, in [0, 1], for multi-label. A percentile bootstrap of such a mean collapses
to a zero-width interval at a perfect (or zero) score: every resample of n right answers is n
right answers. The Wilson score interval (Wilson 1927, "Probable inference, the law of
succession, and statistical inference", JASA 22:209-212; recommended over the Wald interval by
Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial Proportion", Statistical Science
16:101-133) stays inside [0, 1] and keeps a width at 0 and at n: 40 of 40 right gives
0.912-1.000 at 95%.

For multi-label the mean of per-text F1 is used as the proportion. A score in [0, 1] with mean p
has a variance of at most p(1 - p), the Bernoulli variance, so the interval is conservative for
it (never narrower than the normal interval with the score's own variance would be).

Why not a library: scipy.stats.binomtest(k, n).proportion_ci(method="wilson") computes the same
interval for whole k (the tests check equality), but takes no fractional k, and scipy is not a
dependency of the client (tens of MB for one formula).
"""

from __future__ import annotations

import math
from statistics import NormalDist

METHOD = "Wilson score interval"


def wilson_interval(*, mean: float, count: int, confidence: float) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for a proportion `mean` over `count` texts."""
    if count < 1:
        raise ValueError("wilson_interval: needs at least one text")
    if not 0 < confidence < 1:
        raise ValueError("wilson_interval: confidence must be in (0, 1)")
    if not 0 <= mean <= 1:
        raise ValueError(f"wilson_interval: mean {mean} is outside [0, 1]")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    z2_n = z * z / count
    denominator = 1 + z2_n
    center = (mean + z2_n / 2) / denominator
    half_width = z * math.sqrt(mean * (1 - mean) / count + z2_n / (4 * count)) / denominator
    # At 0 and at n one end is exactly the boundary; floating point would leave it a hair off.
    low = 0.0 if mean == 0 else max(0.0, center - half_width)
    high = 1.0 if mean == 1 else min(1.0, center + half_width)
    return low, high
