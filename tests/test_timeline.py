"""Task timelines (distlab run --timeline): each task's submit, start, end and receipt on
one clock, the overhead split, and the recording's cost; on real engines."""

from __future__ import annotations

import json
import time

import pytest

import distlab
from commands import distlab as distlab_cli
from distlab.contracts.tasklog import Execution, LogState, TaskLog
from distlab.run import timeline

pytestmark = pytest.mark.timeout(300)


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_real_pool_records_every_task_on_its_worker():
    with distlab.engine("local", workers=2) as eng:
        log = TaskLog(timeline=True)
        eng.task_log = log
        t0 = time.time()
        futures = [eng.submit(nap, 0.05) for _ in range(8)]
        assert [f.result(timeout=60) for f in futures] == [0.05] * 8
        eng.task_log = None
        made = timeline.build(log.read(), log.submitted_at, log.received_at, t0)
        log.close()
    assert made["available"] and made["tasks_recorded"] == 8
    assert len(made["workers"]) == 2  # two worker processes, one lane each
    assert sum(w["tasks"] for w in made["workers"].values()) == 8
    assert 45 <= made["split"]["run"]["p50_ms"] < 150
    for _id, _pid, sub, start, end, recv in made["tasks"]:
        assert 0 <= sub <= start <= end <= recv  # one clock: the order must hold
    # eight 50 ms naps on two workers: each worker is busy ~200 ms of the window
    for w in made["workers"].values():
        assert 0.15 < w["busy_s"] < 0.4


def test_a_result_that_waits_for_an_earlier_one_waits_in_line():
    # task 1 ends at 1.0 while the caller still waits for task 0 (taken at 2.0): it
    # waits in line 1.0 s, and only 0.1 s after that is its return
    state = LogState([Execution(0, 11, 0.1, 1.9), Execution(1, 12, 0.2, 1.0)])
    made = timeline.build(state, {0: 0.0, 1: 0.0}, {0: 2.0, 1: 2.1}, 0.0)
    phases = timeline._phases(made["tasks"])
    assert phases["in_line"] == pytest.approx([0.0, 1.0])
    assert phases["return"] == pytest.approx([0.1, 0.1])
    assert phases["dispatch"] == pytest.approx([0.1, 0.2])
    assert phases["queued"] == pytest.approx([0.0, 0.0])
    assert made["workers"]["12"]["idle_s"] == pytest.approx(2.1 - 0.8)


def test_a_task_behind_another_on_its_worker_is_queued_not_dispatched():
    # one worker: task 1 was submitted at 0 but its worker ran task 0 until 1.0; it
    # started at 1.05, so 1.0 s queued and 0.05 s the engine's dispatch
    state = LogState([Execution(0, 11, 0.02, 1.0), Execution(1, 11, 1.05, 2.0)])
    made = timeline.build(state, {0: 0.0, 1: 0.0}, {0: 1.01, 1: 2.01}, 0.0)
    phases = timeline._phases(made["tasks"])
    assert phases["queued"] == pytest.approx([0.0, 1.0])
    assert phases["dispatch"] == pytest.approx([0.02, 0.05])


def test_workers_that_cannot_write_the_log_make_the_timeline_unavailable():
    made = timeline.build(LogState(), {0: 0.0}, {0: 1.0}, 0.0)
    assert made["available"] is False and "no common clock" in made["reason"]


def test_the_cost_is_the_recorded_run_against_the_ranked_median():
    cost = timeline.recording_cost(1.1, [0.9, 1.0, 1.2])
    assert cost["ratio"] == pytest.approx(1.1) and cost["ranked_low"] == pytest.approx(0.9)


def test_run_with_timeline_reports_the_split_stream_and_cost(tmp_path):
    out = tmp_path / "run"
    res = distlab_cli(
        "run", "--engines", "local,dask", "--workloads", "squares", "--size", "tiny",
        "--timeline", "--budget", "none", "--out", str(out), timeout=280,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Where each task's time went" in res.stdout
    doc = json.loads((out / "results.json").read_text())
    cells = [c for c in doc["cells"] if c["workload"] == "squares"]
    assert {c["engine"] for c in cells} == {"local", "dask"}
    for c in cells:
        t = c["timeline"]
        assert t["available"], t
        assert t["tasks_recorded"] == 10 and t["cost"]["ratio"] > 0
        # the ranked repetitions are the ones without recording
        assert c["wall"]["n"] == len(c["wall"]["samples"])
    page = (out / "report.html").read_text()
    assert "Where each task's time goes" in page
    assert (out / "plots" / "task_stream.png").exists()
    assert (out / "plots" / "overhead_split.png").exists()
