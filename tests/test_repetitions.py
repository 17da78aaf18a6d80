"""The median's interval says how often it holds the median: its coverage is computed
from the binomial, checked here against draws, and nothing calls a median known from
fewer samples than that coverage needs."""

from __future__ import annotations

import math
import random

import pytest

from distlab.run import repetitions
from distlab.run.repetitions import median_ci


def _binomial_cdf(n: int, k: int) -> float:
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def test_min_to_max_of_few_samples_covers_the_median_less_than_95_percent():
    for n, expected in [(1, 0.0), (2, 0.5), (3, 0.75), (4, 0.875), (5, 0.9375), (6, 0.96875)]:
        interval = median_ci([float(x) for x in range(n)])
        assert (interval.low, interval.high) == (0.0, n - 1.0)
        assert interval.coverage == pytest.approx(expected)
    assert repetitions.SAMPLES_FOR_95 == 6


def test_a_symmetric_interval_covers_one_minus_twice_the_binomial_tail():
    for n in (8, 10, 21, 50):
        for k in range(1, n // 2):
            assert repetitions.coverage(n, k, n - k + 1) == pytest.approx(
                1 - 2 * _binomial_cdf(n, k - 1)
            )


def test_the_stated_coverage_is_what_draws_show():
    """Skewed run times (log-normal, median 1): the share of intervals that hold the
    median matches the stated coverage, where the old text claimed ~95% for every count."""
    rng = random.Random(20240607)
    draws = 4000
    for n in (2, 3, 5, 9, 21):
        stated = median_ci([rng.lognormvariate(0, 0.5) for _ in range(n)]).coverage
        held = 0
        for _ in range(draws):
            interval = median_ci([rng.lognormvariate(0, 0.5) for _ in range(n)])
            assert interval.coverage == stated  # it depends on the count alone
            held += interval.low <= 1.0 <= interval.high
        sigma = math.sqrt(stated * (1 - stated) / draws)
        assert abs(held / draws - stated) < 4 * sigma + 1e-9, (n, held / draws, stated)
    assert median_ci([1.0, 2.0]).coverage == 0.5


def test_the_stopping_rule_keeps_the_ranks_it_always_used():
    # the spread the stopping rule reads: [min, max] up to 7 samples, then inner ranks
    xs = [float(x) for x in range(1, 11)]
    for n in range(1, 8):
        assert tuple(median_ci(xs[:n]))[:2] == (1.0, float(n))
    assert tuple(median_ci(xs[:8]))[:2] == (2.0, 8.0)
    assert tuple(median_ci(xs[:9]))[:2] == (2.0, 9.0)
    assert tuple(median_ci(xs[:10]))[:2] == (2.0, 10.0)
    lo, hi, covered = median_ci(list(range(1, 101)))
    assert lo < 50 < hi and hi - lo < 30 and covered >= 0.95


def test_a_median_is_known_only_from_enough_samples():
    # two runs 0.1% apart agree, and still hold the median only half the time
    assert repetitions.enough([1.0, 1.001], minimum=repetitions.DEFAULT_REPEATS)
    assert not repetitions.median_known([1.0, 1.001])
    assert not repetitions.median_known([1.0, 1.001, 0.999, 1.0, 1.002])
    assert repetitions.median_known([1.0, 1.001, 0.999, 1.0, 1.002, 1.001])
    assert not repetitions.median_known([1.0, 1.5, 0.7, 1.0, 1.2, 0.9])  # too spread
    assert not repetitions.median_known([])
