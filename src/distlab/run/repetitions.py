"""How many measured repetitions a cell needs (pyperf's calibration, simplified).

A cell repeats until the median is known to within ``REL_PRECISION`` (the half-width of a
distribution-free ~95% confidence interval of the median, from order statistics, relative
to the median), with at least the repetitions the user asked for, and stops early when the
extra repetitions would exceed the cell's time budget or ``MAX_REPEATS``. Sleep-bound
cells are stable after the minimum (two: the interval is then min-max); noisy ones get
more samples while the budget lasts. A cell whose runs take ``LONG_RUN_S`` or more is
measured once after its warm-up (the main job's time budget), unless more than
DEFAULT_REPEATS repetitions were asked for.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: the least measured repetitions of a cell unless the user asks for more
DEFAULT_REPEATS = 2
#: the median's CI half-width must be within this share of the median
REL_PRECISION = 0.05
#: never more measured repetitions than this in one cell
MAX_REPEATS = 10
#: extra repetitions (beyond the minimum) stop once measured time passes this
EXTRA_BUDGET_S = 0.75
#: a run this long is measured once: its one-time costs were paid by the warm-up, and a
#: second run would cost as much again (a Flink job with Python workers, ~20-40 s here);
#: such a cell has no spread, and says so
LONG_RUN_S = 10.0


def median_ci(samples: Sequence[float]) -> tuple[float, float]:
    """A distribution-free ~95% confidence interval of the median (order statistics)."""
    xs = sorted(samples)
    n = len(xs)
    half = 0.98 * math.sqrt(n)  # 1.96 * sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half))
    return xs[lo], xs[hi]


def relative_precision(samples: Sequence[float]) -> float | None:
    """Half-width of the median's CI over the median (None without samples)."""
    if not samples:
        return None
    med = statistics.median(samples)
    lo, hi = median_ci(samples)
    return (hi - lo) / 2 / med if med > 0 else 0.0


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
        return True
    # the extra repetitions' time so far, plus one more, must fit the budget
    return sum(samples[minimum:]) + statistics.median(samples) > EXTRA_BUDGET_S
