"""How many measured repetitions a cell needs (pyperf's calibration, simplified).

A cell repeats, with at least the repetitions the user asked for, until the spread of
its runs around the median is within ``REL_PRECISION`` of the median, or until the extra
repetitions would exceed the cell's time budget or ``MAX_REPEATS``. The spread is the
half-width of a distribution-free interval of the median from order statistics
(:func:`median_ci`), and that interval comes with its actual coverage: the probability
that it holds the true median, which the sample count sets. From fewer than
``SAMPLES_FOR_95`` samples no such interval reaches 95%: with 2 samples the widest one,
[min, max], holds the median with probability 50%, with 5 samples 94%. A cell that
stops there stopped because its few runs agreed, not because its median is known to
95%. A cell whose runs take ``LONG_RUN_S`` or more is measured once after its warm-up
(the main job's time budget), unless more than DEFAULT_REPEATS repetitions were asked for.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

#: the least measured repetitions of a cell unless the user asks for more
DEFAULT_REPEATS = 2
#: the median's interval's half-width must be within this share of the median
REL_PRECISION = 0.05
#: the coverage the median's interval is asked to reach (the sample count may not allow it)
CI_COVERAGE = 0.95
#: never more measured repetitions than this in one cell
MAX_REPEATS = 10
#: extra repetitions (beyond the minimum) stop once measured time passes this
EXTRA_BUDGET_S = 0.75
#: a run this long is measured once: its one-time costs were paid by the warm-up, and a
#: second run would cost as much again (a Flink job with Python workers, ~20-40 s here);
#: such a cell has no spread, and says so
LONG_RUN_S = 10.0


class MedianInterval(NamedTuple):
    """An interval of order statistics and the probability that it holds the median."""

    low: float
    high: float
    #: P(low <= true median <= high) for any continuous distribution of the runs
    coverage: float


def coverage(n: int, low_rank: int, high_rank: int) -> float:
    """The probability that [x_(low_rank), x_(high_rank)] (1-based order statistics of
    ``n`` samples) holds the median: as many samples fall below the median as heads in
    ``n`` fair coin tosses, and the interval holds it when that count lies in
    [low_rank, high_rank - 1]; for [x_(k), x_(n-k+1)], 1 - 2 P(Bin(n, 1/2) <= k - 1)."""
    return sum(math.comb(n, k) for k in range(low_rank, high_rank)) / 2**n


def median_ci(samples: Sequence[float]) -> MedianInterval:
    """An interval of the median from order statistics, with the coverage it has.

    The ranks are n/2 -+ 0.98 sqrt(n) rounded outwards (the normal approximation of a
    95% interval; the stopping rule has always measured the spread with them); the
    coverage is the exact binomial one. It is [min, max] up to 7 samples, which covers
    the median with probability 1 - 2^(1-n): 50% from 2 samples, 94% from 5, 97% from 6;
    and the rounding leaves a few larger counts just under 95% (94.75% from 21)."""
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        raise ValueError("the median's interval needs at least one sample")
    half = 0.98 * math.sqrt(n)  # 1.96 * sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half))
    return MedianInterval(xs[low], xs[high], coverage(n, low + 1, high + 1))


def samples_for(wanted: float = CI_COVERAGE) -> int:
    """The fewest samples whose [min, max] holds the median with probability ``wanted``."""
    n = 1
    while coverage(n, 1, n) < wanted:
        n += 1
    return n


#: the fewest samples from which the median's interval reaches CI_COVERAGE (6 for 95%)
SAMPLES_FOR_95 = samples_for(CI_COVERAGE)


def relative_precision(samples: Sequence[float]) -> float | None:
    """Half-width of the median's interval over the median (None without samples); the
    interval's coverage is ``median_ci(samples).coverage``, below 95% under 6 samples."""
    if not samples:
        return None
    med = statistics.median(samples)
    interval = median_ci(samples)
    return (interval.high - interval.low) / 2 / med if med > 0 else 0.0


def median_known(samples: Sequence[float]) -> bool:
    """Whether the median is known to within REL_PRECISION by an interval covering it
    with probability CI_COVERAGE or more: never from fewer than SAMPLES_FOR_95 samples,
    however close together they are."""
    if not samples:
        return False
    interval = median_ci(samples)
    precision = relative_precision(samples)
    return interval.coverage >= CI_COVERAGE and precision is not None and precision <= REL_PRECISION


def enough(samples: Sequence[float], minimum: int, longest_run_s: float = 0.0) -> bool:
    """True when the cell may stop repeating (``longest_run_s``: its longest run so far,
    the warm-up included)."""
    n = len(samples)
    if n >= 1 and longest_run_s >= LONG_RUN_S and minimum <= DEFAULT_REPEATS:
        return True
    if n < minimum:
        return False
    if n >= max(MAX_REPEATS, minimum):
        return True
    precision = relative_precision(samples)
    if precision is not None and precision <= REL_PRECISION:
        # the runs agree; under SAMPLES_FOR_95 samples that is all it says (median_known
        # is the claim that the median is known at CI_COVERAGE)
        return True
    # the extra repetitions' time so far, plus one more, must fit the budget
    return sum(samples[minimum:]) + statistics.median(samples) > EXTRA_BUDGET_S
