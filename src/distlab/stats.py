"""Summaries of repeated measurements: median with spread, never a lone number."""

from __future__ import annotations

import functools
import itertools
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


def _ranks(pooled: list[float]) -> list[float]:
    """Mid-ranks (1-based) of ``pooled`` in its own order."""
    order = sorted(range(len(pooled)), key=pooled.__getitem__)
    ranks = [0.0] * len(pooled)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and pooled[order[j + 1]] == pooled[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@functools.lru_cache(maxsize=256)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many of the C(n1 + n2, n1) orderings without ties give U = 0 .. n1 x n2."""
    # f(n1, n2) = f(n1 - 1, n2) shifted by n2 (the largest value is in the first sample)
    #           + f(n1, n2 - 1)
    if n1 == 0 or n2 == 0:
        return (1,)
    a, b = _u_counts(n1 - 1, n2), _u_counts(n1, n2 - 1)
    out = [0] * (n1 * n2 + 1)
    for u, c in enumerate(a):
        out[u + n2] += c
    for u, c in enumerate(b):
        out[u] += c
    return tuple(out)


#: exact tests up to this many samples in all; beyond, the normal approximation
EXACT_UP_TO = 60


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U test p-value: exact for small samples (a handful of
    repetitions, where the normal approximation is far off: 2 against 2 can never reach
    p < 0.33), the normal approximation with tie correction beyond ``EXACT_UP_TO``.

    Used to say whether two sets of repetitions differ beyond noise: a star in the report,
    a regression in `distlab compare`.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = [float(x) for x in a] + [float(x) for x in b]
    ranks = _ranks(pooled)
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    tied = len(set(pooled)) < len(pooled)
    if n1 + n2 <= EXACT_UP_TO and not tied:
        counts = _u_counts(n1, n2)
        far = abs(u1 - mu)
        extreme = sum(c for u, c in enumerate(counts) if abs(u - mu) >= far - 1e-9)
        return min(1.0, extreme / math.comb(n1 + n2, n1))
    if n1 + n2 <= 16 and tied:  # exact over every split of the mid-ranks
        far = abs(u1 - mu)
        hits = total = 0
        for pick in itertools.combinations(range(n1 + n2), n1):
            u = sum(ranks[k] for k in pick) - n1 * (n1 + 1) / 2
            hits += abs(u - mu) >= far - 1e-9
            total += 1
        return hits / total
    counts_tied: dict[float, int] = {}
    for x in pooled:
        counts_tied[x] = counts_tied.get(x, 0) + 1
    ties = sum(t**3 - t for t in counts_tied.values())
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def min_possible_p(n1: int, n2: int) -> float:
    """The smallest p :func:`mann_whitney_p` can give with these sample counts (every
    sample of one set below every sample of the other)."""
    return mann_whitney_p(list(range(n1)), [n1 + i for i in range(n2)])


def shift_interval(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Hodges-Lehmann shift of ``b`` against ``a`` with its distribution-free interval:
    (estimate, low, high, coverage). The estimate is the median of every difference
    b_j - a_i; the interval is cut from their order statistics at the Mann-Whitney
    critical value (exact for small samples, as :func:`mann_whitney_p`), so it is the set
    of shifts the same test would not reject. Few repetitions cannot reach every
    confidence (2 against 2: at most 67%): the interval is then the whole range of the
    differences and ``coverage`` says what it does reach."""
    diffs = sorted(float(y) - float(x) for x in a for y in b)
    if not diffs:
        raise ValueError("shift_interval needs samples on both sides")
    n1, n2 = len(a), len(b)
    m = len(diffs)
    tail = (1 - confidence) / 2
    if n1 + n2 <= EXACT_UP_TO:
        total = math.comb(n1 + n2, n1)
        counts = _u_counts(n1, n2)
        # k: how many differences to cut from each end, the most whose tail P(U < k)
        # stays within the asked tail (at least one: the interval is never wider than
        # the range of the differences)
        k, below = 1, counts[0] / total
        while k < m // 2 + 1 and below + counts[k] / total <= tail:
            below += counts[k] / total
            k += 1
        coverage = 1 - 2 * sum(counts[:k]) / total  # the interval misses in either tail
    else:
        z = statistics.NormalDist().inv_cdf(1 - tail)
        k = max(1, math.floor(m / 2 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)))
        coverage = confidence
    k = min(k, (m + 1) // 2)
    return statistics.median(diffs), diffs[k - 1], diffs[m - k], max(0.0, coverage)


def ratio_interval(
    a: Sequence[float], b: Sequence[float], wanted: float = 0.95
) -> tuple[float, float, float, float]:
    """How many times ``a`` is ``b`` (e.g. a loop's times over a configuration's: its
    speed-up), as (estimate, low, high, coverage): :func:`shift_interval` on the
    logarithms of the (positive) times, brought back as ratios. The estimate is the
    median of every ratio a_i / b_j, the interval the ratios the Mann-Whitney test would
    not reject; few samples cannot reach ``wanted`` (1 against 3 covers at most 50%), and
    the coverage says what the interval is worth."""
    if not a or not b:
        raise ValueError("a ratio's interval needs samples on both sides")
    est, low, high, cover = shift_interval(
        [math.log(y) for y in b], [math.log(x) for x in a], wanted
    )
    return math.exp(est), math.exp(low), math.exp(high), cover
