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
    assert slow.asked_s == pytest.approx(2 * fast.asked_s)
    assert slow.predicted_s <= 300.0 < slow.asked_s
    # what costs the least information first: every shortening before anything left out
    assert len(slow.shortened) == len(budget.SHORTENINGS) and slow.left_out
    assert slow.params["stream"] == {"sweep_confirm": False, "trials": 1}
    # then the costliest cells first: none left in costs more than the first left out
    costs = budget.cell_costs(MAIN_JOB)
    first = sum(costs[slow.left_out[0]].values())
    kept = [k for k in costs if k not in slow.left_out]
    assert all(sum(costs[k].values()) <= first for k in kept)
    assert "left out: " in slow.summary() and "planned to" in slow.summary()


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


def test_a_tight_budget_leaves_out_cells_and_says_so(tmp_path):
    from distlab import machine_speed

    spec = RunSpec(engines=["local", "scoop"], workloads=["squares", "kfold"])
    speed = machine_speed.measure()["seconds"]
    asked = budget.plan(spec, speed, None).asked_s
    # 80% of the prediction: both kfold cells (the costlier) must go, both squares fit
    tight = round(asked * 0.8, 1)
    res = distlab(
        "run", "--engines", "local,scoop", "--workloads", "squares,kfold",
        "--budget", f"{tight}s", "--out", str(tmp_path),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    plan = doc["plan"]
    assert plan["budget_s"] == tight and plan["speed_s"] == doc["environment"]["speed"]["seconds"]
    assert plan["predicted_s"] <= tight < plan["asked_s"]
    assert sorted(plan["left_out"]) == [["local", "kfold"], ["scoop", "kfold"]]
    skipped = sorted([c["engine"], c["workload"]] for c in doc["cells"] if c["status"] == "skipped")
    assert skipped == sorted(plan["left_out"])
    assert all("time budget" in c["reason"] for c in doc["cells"] if c["status"] == "skipped")
    ran = {(c["engine"], c["workload"]) for c in doc["cells"] if c["status"] == "ok"}
    assert ran == {("local", "squares"), ("scoop", "squares")}
    assert "left out: local/kfold, scoop/kfold" in res.stdout.replace("\n", " ")
    page = (tmp_path / "report.html").read_text()
    assert 'id="plan"' in page and "left out" in page
