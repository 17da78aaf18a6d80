"""Racing (run/racing.py): repetitions go where they decide a star. The rule is checked
exactly on numbers made here, and once in a real run of two engines."""

from __future__ import annotations

import json

from commands import distlab
from distlab.run import racing
from distlab.run.model import CellRecord
from distlab.stats import mann_whitney_p, min_possible_p

BEST = [1.0, 1.01, 1.02, 1.0, 1.01]


def test_the_exact_test_gives_what_small_samples_allow():
    # two against two can never reach 95%; four against four, three against five can
    assert min_possible_p(2, 2) == 1 / 3 and min_possible_p(3, 3) == 0.1
    assert min_possible_p(4, 4) < 0.05 and min_possible_p(3, 5) < 0.05
    assert mann_whitney_p([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) == 0.7


def test_the_best_so_far_repeats_until_it_can_be_raced():
    assert racing.still_racing([1.0, 1.1], None)  # no rival: it is the best so far
    assert not racing.still_racing([1.0] * racing.LEAD_REPEATS, None)
    assert racing.still_racing([0.5, 0.51], BEST)  # ahead of the best so far
    assert racing.needed(len(BEST)) == 3


def test_a_cell_behind_stops_once_the_test_can_tell_it_apart():
    assert racing.still_racing([2.0, 2.1], BEST)  # 5 against 2 cannot reach 95%
    assert not racing.still_racing([2.0, 2.1, 2.05], BEST)  # 5 against 3: p = 0.036
    # as slow as the best: nothing tells them apart, it stops at the repetitions a
    # separation would have needed
    assert not racing.still_racing([1.02, 1.0, 1.015], BEST)


def test_the_race_keeps_within_its_budget_and_ranks_only_work_that_ranks():
    slow = [racing.RACE_BUDGET_S] * 3  # each extra run would overrun the budget
    assert racing.enough(slow, slow, 2, slow[0], True, None)
    quick = [0.1, 0.1]
    assert not racing.enough(quick, quick, 2, 0.1, True, None)  # a leader repeats
    assert racing.enough(quick, quick, 2, 0.1, False, None)  # a paced loop: no race
    assert racing.enough([20.0], [20.0], 2, 20.0, True, None)  # a long run: once


def test_rivals_are_the_best_verified_repetitions_for_the_full_workload():
    def cell(engine, samples, fraction=1.0, **kw):
        c = CellRecord(engine, "numbers", "per_element", verified=True, work_fraction=fraction)
        c.wall = {"samples": samples}
        c.metrics = kw
        return c

    cells = [
        cell("local", [0.5, 0.5], fraction=0.01),  # 50 s for the whole work
        cell("dask", [0.4, 0.4], fraction=0.01, full_samples_s=[20.0, 21.0]),
        cell("ray", [1.0], fraction=0.01),  # one run: races nobody
        cell("scoop", [0.1, 0.1], fraction=None),  # ranks nothing
    ]
    assert racing.rivals(cells) == {"numbers/per_element": [20.0, 21.0]}


def _squares(tmp_path, engines: str, size: str) -> dict:
    """A real run of squares; its results document."""
    res = distlab("run", "--engines", engines, "--workloads", "squares", "--size", size,
                  "--out", str(tmp_path))  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads((tmp_path / "results.json").read_text())


def test_a_run_gives_the_leader_its_repetitions_and_the_other_what_decides(tmp_path):
    doc = _squares(tmp_path, "local,scoop", "default")
    local, scoop = (c for c in doc["cells"] if c["workload"] == "squares")
    assert local["engine"] == "local" and local["wall"]["n"] >= racing.LEAD_REPEATS
    # the second engine raced the first: it repeated until the test could tell them
    # apart or until it had what a separation needs
    rival = local["wall"]["samples"]
    mine = scoop["wall"]["samples"]
    assert len(mine) >= racing.needed(len(rival)) or racing.separated(mine, rival)
    assert doc["environment"]["speed"]["seconds"] > 0


def test_the_tests_size_does_not_race(tmp_path):
    (cell,) = _squares(tmp_path, "local", "tiny")["cells"]
    assert cell["wall"]["n"] < racing.LEAD_REPEATS  # the ordinary rule: no race
