"""Steps in a cell's series of medians: a penalised piecewise-constant fit, as asv does.

The series is fitted by segments of constant level, each point weighted by how well it
was measured (1 / its uncertainty), at a cost of ``gamma`` per segment: a step is kept
only where it explains more of the series than the penalty costs. The fit is exact
(dynamic programming over every split, the Potts problem of Friedrich et al. 2008 that
asv's step_detect solves); the cost of a segment is the weighted L1 distance to its
weighted median, so one wild run moves no level. Work is in logarithms: a 20% step is
the same step at 1 ms and at 10 s, and ratios are what the verdicts speak of.

This only proposes where a series moved; whether a move is beyond noise is decided by
the caller (report/history.py) with the same test as ``distlab compare``.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: the least relative uncertainty of any point: timers and a quiet machine's drift
NOISE_FLOOR = 0.005
#: the uncertainty of a point measured once, when the series cannot say better
SINGLE_RUN_NOISE = 0.02
#: the longest series fitted (the most recent points): the exact fit costs n^3
MAX_POINTS = 120


@dataclass
class Segment:
    """Points [start, end) of the series at one level (the level in seconds)."""

    start: int
    end: int
    level: float


def log_uncertainty(samples: Sequence[float]) -> float | None:
    """The standard error of a median of repetitions, in log units (relative): the
    robust spread (1.4826 x MAD) over sqrt(n), times 1.25 (a median's efficiency against
    a mean's). None for a single repetition: it says nothing about its own noise."""
    logs = [math.log(x) for x in samples if x > 0]
    if len(logs) < 2:
        return None
    centre = statistics.median(logs)
    mad = statistics.median(abs(x - centre) for x in logs)
    return 1.25 * 1.4826 * mad / math.sqrt(len(logs))


def series_noise(log_levels: Sequence[float]) -> float | None:
    """Run-to-run noise of a series from its successive differences (their median over
    0.6745 x sqrt 2): robust to the few differences that are steps. Repetitions within a
    run share its machine state, so a run's own spread understates how far the next run
    lands; this says how far runs land. None below 4 points (too few differences)."""
    if len(log_levels) < 4:
        return None
    diffs = [abs(b - a) for a, b in zip(log_levels, log_levels[1:], strict=False)]
    return statistics.median(diffs) / (0.6745 * math.sqrt(2))


def _weighted_median_cost(points: list[tuple[float, float]]) -> float:
    """min over mu of sum w |y - mu| for ``points`` (y, w) sorted by y: attained at the
    weighted median."""
    total = sum(w for _, w in points)
    running = 0.0
    mu = points[-1][0]
    for y, w in points:
        running += w
        if running >= total / 2:
            mu = y
            break
    return sum(w * abs(y - mu) for y, w in points)


def _weighted_median(points: list[tuple[float, float]]) -> float:
    ordered = sorted(points)
    total = sum(w for _, w in ordered)
    running = 0.0
    for y, w in ordered:
        running += w
        if running >= total / 2:
            return y
    return ordered[-1][0]


def penalty(n: int) -> float:
    """The cost of one more segment, in units of a point's uncertainty: a step must
    move the fit by more than a few standard errors summed over its points, growing
    with the series' length as a BIC does (more points, more chances for noise to look
    like a step)."""
    return 3.0 + 2.0 * math.log(max(n, 2))


def fit_levels(
    medians: Sequence[float], uncertainties: Sequence[float], gamma: float | None = None
) -> list[Segment]:
    """The segments of the penalised fit of ``medians`` (seconds) weighted by
    ``uncertainties`` (relative, log units)."""
    n = len(medians)
    if n == 0:
        return []
    ys = [math.log(m) for m in medians]
    ws = [1.0 / max(u, NOISE_FLOOR) for u in uncertainties]
    gamma = penalty(n) if gamma is None else gamma
    # cost[l][r]: one segment over [l, r); built by growing r, points kept sorted
    cost = [[0.0] * (n + 1) for _ in range(n + 1)]
    for left in range(n):
        ordered: list[tuple[float, float]] = []
        for right in range(left + 1, n + 1):
            bisect.insort(ordered, (ys[right - 1], ws[right - 1]))
            cost[left][right] = _weighted_median_cost(ordered)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for right in range(1, n + 1):
        for left in range(right):
            total = best[left] + cost[left][right] + (gamma if left else 0.0)
            if total < best[right]:
                best[right], cut[right] = total, left
    bounds = []
    right = n
    while right > 0:
        bounds.append((cut[right], right))
        right = cut[right]
    return [
        Segment(
            start,
            end,
            math.exp(_weighted_median(list(zip(ys[start:end], ws[start:end], strict=True)))),
        )
        for start, end in reversed(bounds)
    ]


def detect(samples_per_point: Sequence[Sequence[float]]) -> list[Segment]:
    """Segments of a series given each point's repetitions (seconds), oldest first;
    only the last MAX_POINTS points are fitted (segment indices count from the first
    of those)."""
    points = [list(s) for s in samples_per_point][-MAX_POINTS:]
    medians = [statistics.median(s) for s in points]
    between_runs = series_noise([math.log(m) for m in medians])
    uncertainties = []
    for s in points:
        own = log_uncertainty(s)
        if own is None:
            own = SINGLE_RUN_NOISE if between_runs is None else between_runs
        uncertainties.append(max(own, between_runs or 0.0, NOISE_FLOOR))
    return fit_levels(medians, uncertainties)
