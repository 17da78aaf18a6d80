"""Repetitions where they decide something: a cell races the best time measured so far on
the same work (racing, as irace and F-race do with configurations).

A star in the report means the best engine is faster than the runner-up at 95%
confidence (an exact two-sided Mann-Whitney test over their repetitions). Two runs
against two can never show that (the smallest possible p is 0.33), and repeating every
cell until it could would double the main job. So the engines race: the parent passes
each engine process the repetitions of the best cell measured so far on each piece of
work (its *rival*), and a cell

* that is the best so far (or has no rival: the first engine to run that work) repeats
  until it has :data:`LEAD_REPEATS`, so that the engines after it can be told apart from
  it;
* that is behind its rival repeats until the test separates them or until it has as many
  repetitions as a separation would need (three against five), and then stops: nothing
  it could add changes the verdict;
* spends at most :data:`RACE_BUDGET_S` of extra measured time on it; after that, the
  ordinary rule (repetitions.enough) decides.

The first engines to run a piece of work therefore pay for the repetitions of the best;
an engine far behind pays nothing extra. A cell whose runs take
``repetitions.LONG_RUN_S`` or more is still measured once: it races nobody.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from distlab.run import repetitions
from distlab.run.model import CellRecord
from distlab.stats import mann_whitney_p, min_possible_p

#: the confidence a star stands for (two-sided)
ALPHA = 0.05
#: repetitions the best so far is given: five against three can reach p < 0.05
LEAD_REPEATS = 5
#: extra measured time (beyond the minimum repetitions) a contender may spend, per cell
RACE_BUDGET_S = 4.0


def key(workload: str, variant: str) -> str:
    return f"{workload}/{variant}"


def separated(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether the test tells the two sets of repetitions apart at 95%."""
    return len(a) > 1 and len(b) > 1 and mann_whitney_p(a, b) <= ALPHA


def needed(rival_n: int) -> int:
    """The fewest repetitions that can be told apart from ``rival_n`` at 95%."""
    n = 2
    while n < repetitions.MAX_REPEATS and min_possible_p(rival_n, n) > ALPHA:
        n += 1
    return n


def still_racing(full: Sequence[float], rival: Sequence[float] | None) -> bool:
    """Whether a cell's repetitions (``full``: scaled to the full workload, as the rival's
    are) should go on: it is the best so far with fewer than :data:`LEAD_REPEATS`, or it
    is behind the best so far, not yet separated from it, and still short of the
    repetitions a separation needs."""
    if not rival or statistics.median(full) <= statistics.median(rival):
        return len(full) < LEAD_REPEATS  # the best so far: the next engines race it
    return len(full) < needed(len(rival)) and not separated(full, rival)


def full_value(wall: float, work_fraction: float | None, metrics: dict) -> float:
    """One repetition's time for the full workload: a capped run's own extrapolation (its
    fixed cost once, its per-element cost for every element) where it made one, else the
    time scaled by the share of the work it ran."""
    extrapolated = metrics.get("extrapolated_full_s")
    if isinstance(extrapolated, int | float):
        return float(extrapolated)
    return wall / work_fraction if work_fraction and work_fraction > 0 else wall


def full_samples(cell: CellRecord) -> list[float]:
    """A cell's repetitions for the full workload (as :func:`full_value` makes them)."""
    recorded = (cell.metrics or {}).get("full_samples_s")
    if recorded:
        return list(recorded)
    share = cell.work_fraction if cell.work_fraction and cell.work_fraction > 0 else 1.0
    return [x / share for x in (cell.wall or {}).get("samples") or []]


def rivals(cells: Sequence[CellRecord]) -> dict[str, list[float]]:
    """Per piece of work, the full-workload repetitions of the best verified cell so far
    (lowest median). Cells that rank nothing (work_fraction None: a cached re-run, a paced
    loop) and single runs race nobody."""
    best: dict[str, list[float]] = {}
    for c in cells:
        if c.status != "ok" or not c.verified or c.work_fraction is None:
            continue
        full = full_samples(c)
        if len(full) < 2:
            continue
        k = key(c.workload, c.variant)
        if k not in best or statistics.median(full) < statistics.median(best[k]):
            best[k] = full
    return best


def enough(
    samples: Sequence[float],
    full: Sequence[float],
    minimum: int,
    longest_run_s: float,
    ranked: bool,
    rival: Sequence[float] | None,
) -> bool:
    """True when the cell may stop repeating: :func:`repetitions.enough`'s rule for work
    that ranks nothing, and for the rest the race of its full-workload repetitions
    (``full``) against ``rival`` on top of it."""
    if not ranked or not samples:
        return repetitions.enough(samples, minimum, longest_run_s)
    n = len(samples)
    if longest_run_s >= repetitions.LONG_RUN_S and minimum <= repetitions.DEFAULT_REPEATS:
        return True  # measured once: it races nobody
    if n < minimum:
        return False
    if n >= max(repetitions.MAX_REPEATS, minimum):
        return True
    if still_racing(full, rival):
        # the extra repetitions' time so far, plus one more, must fit the race's budget
        return sum(samples[minimum:]) + statistics.median(samples) > RACE_BUDGET_S
    return repetitions.enough(samples, minimum, longest_run_s)
