"""Summaries of repeated measurements: median with spread, never a lone number."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def summarize(samples: Sequence[float]) -> dict:
    """Median, min, max, mean, stdev, IQR and an instability flag for a list of samples."""
    xs = sorted(float(x) for x in samples)
    if not xs:
        return {"n": 0}
    n = len(xs)
    med = statistics.median(xs)
    mean = statistics.fmean(xs)
    stdev = statistics.stdev(xs) if n > 1 else 0.0
    q1, q3 = (
        (statistics.quantiles(xs, n=4)[0], statistics.quantiles(xs, n=4)[2])
        if n > 1
        else (
            xs[0],
            xs[0],
        )
    )
    return {
        "n": n,
        "median": med,
        "min": xs[0],
        "max": xs[-1],
        "mean": mean,
        "stdev": stdev,
        "iqr": q3 - q1,
        # pyperf's rule of thumb: a relative stdev above 10% means the figure is unstable
        "unstable": bool(n > 1 and mean > 0 and stdev / mean > 0.10),
        "samples": list(samples),
    }


def percentiles(samples: Sequence[float], ps: Sequence[float] = (50, 90, 99, 99.9)) -> dict:
    """Nearest-rank percentiles, keyed 'p50', 'p99', 'p99.9'."""
    xs = sorted(samples)
    out = {}
    for p in ps:
        if not xs:
            out[f"p{p:g}"] = None
            continue
        k = max(0, min(len(xs) - 1, math.ceil(round(p / 100 * len(xs), 9)) - 1))
        out[f"p{p:g}"] = xs[k]
    return out


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U test p-value (normal approximation with tie correction).

    Used by `distlab compare` to say whether two sets of repetitions differ beyond noise.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    i = 0
    ties = 0.0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return math.erfc(max(z, 0.0) / math.sqrt(2))
