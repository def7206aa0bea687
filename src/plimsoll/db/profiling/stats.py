"""The statistics baselines and objectives need: mean, spread, a 95% interval, percentiles.

Pure functions on lists of floats; no numpy or scipy (start-up time, and a handful of samples
never needs them). Student's t quantiles come from a table for small samples and a
Cornish-Fisher expansion beyond it, accurate to 1e-4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95%: the 0.975 quantile of Student's t with 1..30 degrees of freedom.
_T975 = (
    12.7062,
    4.3027,
    3.1824,
    2.7764,
    2.5706,
    2.4469,
    2.3646,
    2.3060,
    2.2622,
    2.2281,
    2.2010,
    2.1788,
    2.1604,
    2.1448,
    2.1314,
    2.1199,
    2.1098,
    2.1009,
    2.0930,
    2.0860,
    2.0796,
    2.0739,
    2.0687,
    2.0639,
    2.0595,
    2.0555,
    2.0518,
    2.0484,
    2.0452,
    2.0423,
)
_Z975 = 1.959963984540054


def t975(degrees: int) -> float:
    """The 0.975 quantile of Student's t with ``degrees`` degrees of freedom (>= 1)."""
    if degrees < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {degrees}")
    if degrees <= len(_T975):
        return _T975[degrees - 1]
    z, v = _Z975, float(degrees)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


@dataclass(frozen=True)
class Summary:
    """Samples summarised: count, mean, sample standard deviation and the 95% interval.

    ``low``..``high`` is the 95% prediction interval of one new measurement, mean ± t·s·√(1+1/n)
    with Student's t at n-1 degrees of freedom: where a new run of an unchanged query falls 19
    times in 20. With one sample the interval is that sample. When no sample is negative (times,
    costs), neither is ``low``.
    """

    count: int
    mean: float
    stddev: float
    low: float
    high: float


def summarize(values: Sequence[float]) -> Summary:
    """Summarise ``values`` (at least one); see :class:`Summary`."""
    n = len(values)
    if n == 0:
        raise ValueError("no samples to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(1, mean, 0.0, mean, mean)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    stddev = math.sqrt(variance)
    half = t975(n - 1) * stddev * math.sqrt(1 + 1 / n)
    low = mean - half
    if low < 0 <= min(values):
        low = 0.0
    return Summary(n, mean, stddev, low, mean + half)


def sum_noise(groups: Sequence[Sequence[float]]) -> float | None:
    """The 95% half-width of a sum or difference of the means of independent sample ``groups``.

    Welch's approach: the variance of the combination is the sum of each group's variance of
    its mean, s²/n, and its degrees of freedom come from the Welch-Satterthwaite equation
    (rounded down, which widens the interval). This is how far such a sum moves by chance
    alone: a measured difference smaller than it is within the noise. None when a group has
    fewer than two samples (no spread to measure) or there are no groups.
    """
    if not groups or any(len(group) < 2 for group in groups):
        return None
    parts = []
    for group in groups:
        n = len(group)
        mean = math.fsum(group) / n
        variance = math.fsum((v - mean) ** 2 for v in group) / (n - 1)
        parts.append((variance / n, n - 1))
    total = math.fsum(part for part, _ in parts)
    if total == 0.0:
        return 0.0
    spread = math.fsum(part**2 / degrees for part, degrees in parts)
    degrees = max(1, math.floor(total**2 / spread)) if spread > 0 else 1
    return t975(degrees) * math.sqrt(total)


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (at least one)."""
    return percentile(values, 50.0)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    The same definition as numpy's default and ``statistics.quantiles(method='inclusive')``.
    """
    if not values:
        raise ValueError("no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
