"""The run planned to its time budget (run/budget.py): the prediction scales with the
machine's speed figure, shortenings come before leaving anything out, and what is left
out is recorded and shown, never silently missing."""

from __future__ import annotations

import json

import pytest

from commands import distlab
from distlab.contracts import DistlabError
from distlab.run import budget
from distlab.run.model import RunSpec
from distlab.workloads import WORKLOADS

MAIN_JOB = RunSpec(engines=list(budget.COSTS)[1:], workloads=list(WORKLOADS))


def test_budgets_are_read_as_durations_and_bad_ones_refused():
    assert budget.parse_budget(None, "default") == budget.DEFAULT_BUDGET_S
    assert budget.parse_budget(None, "tiny") is None  # the tests' size: no budget
    assert budget.parse_budget("5m", "tiny") == 300
    assert budget.parse_budget("1m30s", "default") == 90
    assert budget.parse_budget("45", "default") == budget.parse_budget("45s", "default") == 45
    assert budget.parse_budget("none", "default") is None
    for bad in ("5x", "", "m", "0s", "-3m"):
        with pytest.raises(DistlabError, match="--budget"):
            budget.parse_budget(bad, "default")


def test_a_machine_twice_as_slow_is_planned_to_fit():
    fast = budget.plan(MAIN_JOB, budget.REFERENCE_SPEED_S, None)
    assert fast.predicted_s == fast.asked_s and not fast.shortened and not fast.left_out
    slow = budget.plan(MAIN_JOB, 2 * budget.REFERENCE_SPEED_S, 300.0)
    # in steps of 1.25x: the speed figure moves by ~10% between runs on one machine
    assert budget.speed_class(2 * budget.REFERENCE_SPEED_S) == pytest.approx(1.25**3)
    assert budget.speed_class(1.08 * budget.REFERENCE_SPEED_S) == 1.0
    assert slow.asked_s == pytest.approx(1.25**3 * fast.asked_s)
    assert slow.predicted_s <= 300.0 * budget.AIM < slow.asked_s
    # whole rows and whole engines only: never a part of a row
    rows = {r for w in MAIN_JOB.workloads for r in budget._rows(w)}
    assert slow.left_out and all(
        u in rows or u.removeprefix("engine ") in MAIN_JOB.engines for u in slow.left_out
    )
    # a shortening stays only where a row it shortens is still run
    assert slow.shortened and slow.params["stream"] == {"trials": 1}
    assert "stream/fixed_rate" not in slow.left_out
    assert "stream/sweep" in slow.left_out and "sweep_confirm" not in slow.params["stream"]
    assert "left out: " in slow.summary() and "planned to" in slow.summary()


def test_the_least_that_fits_goes_before_the_most():
    spec = RunSpec(engines=["local", "scoop", "spark"], workloads=["squares", "numbers", "kfold"])
    cells = budget.cell_costs(spec)
    speed = budget.REFERENCE_SPEED_S
    asked = budget.plan(spec, speed, None).asked_s

    def row(name: str) -> float:
        return sum(v for (_e, r), v in cells.items() if r == name)

    # just over by less than the squares row costs: that row is enough, and the smallest
    made = budget.plan(spec, speed, (asked - row("squares") / 2) / budget.AIM)
    assert made.left_out == ["squares"]
    # over by more than any one row: the costliest first, then the least that fits
    assert row("numbers") > row("kfold") > row("squares")
    made = budget.plan(spec, speed, (asked - row("numbers") - row("squares") / 2) / budget.AIM)
    assert made.left_out == ["numbers", "squares"]
    # an engine goes only when none of its rows is left
    assert budget.plan(spec, speed, 1.0).left_out[-3:] == [
        "engine local", "engine scoop", "engine spark",
    ]  # fmt: skip


def test_the_plan_goes_into_the_workloads_parameters_but_a_users_own_wins():
    spec = RunSpec(engines=["ray"], workloads=["stream"], params={"stream": {"trials": 5}})
    made = budget.Plan(
        300.0, 0.4, 290.0, 400.0, params={"stream": {"trials": 1, "sweep_confirm": False}}
    )
    assert budget.applied(spec, made).params == {"stream": {"trials": 5, "sweep_confirm": False}}


def test_a_bad_budget_is_one_line_and_exit_2(tmp_path):
    res = distlab("run", "--engines", "local", "--budget", "5 minutes", "--out", str(tmp_path))
    assert res.returncode == 2 and "--budget must be a duration" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_tight_budget_leaves_out_what_its_plan_says_and_says_so(tmp_path):
    spec = RunSpec(engines=["local", "scoop"], workloads=["squares", "kfold"])
    asked = budget.plan(spec, budget.REFERENCE_SPEED_S, None).asked_s
    kfold = sum(v for (_e, row), v in budget.cell_costs(spec).items() if row == "kfold")
    # on the costs' machine, over by half the kfold row: that row must go
    tight = round((asked - kfold / 2) / budget.AIM, 1)
    res = distlab(
        "run", "--engines", "local,scoop", "--workloads", "squares,kfold",
        "--budget", f"{tight}s", "--out", str(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    plan = doc["plan"]
    speed = doc["environment"]["speed"]["seconds"]
    assert plan["budget_s"] == tight and plan["speed_s"] == speed
    # the plan made from the speed figure the run measured (this machine's class may
    # not be the costs' machine's)
    assert plan["left_out"] == budget.plan(spec, speed, tight).left_out
    # something goes unless this machine is a class faster and all of it fits
    assert plan["predicted_s"] <= tight * budget.AIM
    assert bool(plan["left_out"]) == (plan["asked_s"] > tight * budget.AIM)
    # the cells skipped are exactly those of the rows and engines the plan left out, each
    # saying why; every other cell ran
    gone = set(plan["left_out"])
    for c in doc["cells"]:
        out = c["workload"] in gone or f"engine {c['engine']}" in gone
        assert (c["status"] == "skipped") == out, c
        assert not out or "time budget" in c["reason"]
    if budget.speed_class(speed) == 1.0:
        assert plan["left_out"] == ["kfold"]  # as on the costs' machine
    assert f"time budget {round(tight)} s" in res.stdout
    page = (tmp_path / "report.html").read_text()
    assert 'id="plan"' in page
    if plan["left_out"]:
        assert "left out: " in res.stdout and "left out" in page
