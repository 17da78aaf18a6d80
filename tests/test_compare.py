"""`distlab compare` judges a whole file of comparisons: a cell is called a regression
only where the false discovery rate over all of them says so (documents built here)."""

from __future__ import annotations

import pytest

from distlab.report.compare import compare, false_discovery_q
from docs import document


def _cell(workload: str, samples: list[float], **metrics) -> dict:
    med = sorted(samples)[len(samples) // 2]
    return {
        "engine": "local", "workload": workload, "variant": "-", "status": "ok",
        "verified": True, "wall_s": med,
        "wall": {"n": len(samples), "median": med, "min": min(samples), "max": max(samples),
                 "samples": samples},
        "metrics": {"work_fraction": 1.0, **metrics},
    }  # fmt: skip


def _doc(cells: list[dict]):
    return document(cells)


def test_false_discovery_q_values():
    assert false_discovery_q([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5]
    )
    assert false_discovery_q([]) == []


def test_a_chance_difference_among_many_cells_is_noise_and_a_real_one_is_not():
    same = [1.0, 1.02, 1.01, 0.99, 1.03]
    a = [_cell(f"w{i}", same) for i in range(30)]
    b = [_cell(f"w{i}", [x * 1.001 for x in same]) for i in range(30)]
    # one cell 15% slower in every repetition: p = 0.008 alone, one of 31 comparisons
    a.append(_cell("drift", same))
    b.append(_cell("drift", [x * 1.15 for x in same]))
    result = compare(_doc(a), _doc(b))
    (drift,) = [r for r in result.rows if r.workload == "drift"]
    assert drift.p < 0.05 and drift.verdict == "noise" and "q=" in drift.note
    assert result.regressions == []
    # ten repetitions each, twice as slow: no chance explains it, whatever else is compared
    slow = [x * 2 for x in same + same]
    a.append(_cell("slowed", same + same))
    b.append(_cell("slowed", slow))
    assert [r.workload for r in compare(_doc(a), _doc(b)).regressions] == ["slowed"]


def test_a_cell_that_ranks_nothing_is_never_a_regression():
    a = [_cell("microscopy", [0.0019, 0.002, 0.0021], work_fraction=None)]
    b = [_cell("microscopy", [0.005, 0.0051, 0.0052], work_fraction=None)]
    (row,) = compare(_doc(a), _doc(b)).rows
    assert row.verdict == "same" and row.p is None and "ranks nothing" in row.note
