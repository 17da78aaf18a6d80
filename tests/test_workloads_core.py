"""W1 squares, W2 numbers, W6 jobs, W8 wordcount on the process-pool engine (real pool)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import traceback

import numpy as np
import pytest

import distlab
from distlab import probes
from distlab.contracts import TaskLost
from distlab.workloads import create
from distlab.workloads.base import gather_counting_lost
from distlab.workloads.jobs import Jobs
from distlab.workloads.numbers import choose_batch_size


@pytest.fixture(scope="module")
def pool():
    with distlab.engine("local", workers=2) as eng:
        yield eng


@pytest.mark.parametrize("name", ["squares", "numbers", "jobs", "wordcount"])
def test_every_variant_verifies(pool, name):
    wl = create(name, "tiny")
    for variant in wl.variants(pool):
        ok, detail = wl.verify(wl.run(pool, variant), variant)
        assert ok, f"{name}/{variant}: {detail}"


def test_wrong_answers_are_caught(pool):
    wl = create("numbers", "tiny")
    out = wl.run(pool, "batched")
    out.result[7] += 1e-9
    ok, detail = wl.verify(out, "batched")
    assert not ok and "differ" in detail
    wc = create("wordcount", "tiny")
    out = wc.run(pool, "python")
    word = next(iter(out.result))
    out.result[word] += 1
    assert not wc.verify(out, "python")[0]


def test_numbers_sizes_follow_the_seed():
    assert create("numbers", "seed").params["n"] == 1_000_000
    sq = create("squares", "seed").params
    assert (sq["n"], sq["sleep_s"]) == (10, 0.5)


def test_batch_size_rule():
    # 1 ms of overhead per task, 0.1 us per element: 200k elements per batch wanted,
    # capped so each of 2 workers still gets 2 batches
    assert choose_batch_size(1_000_000, 2, 1e-3, 1e-7) == 200_000
    assert choose_batch_size(1_000_000, 2, 1.0, 1e-7) == 250_000
    assert choose_batch_size(10, 2, 0.0, 1e-7) == 1


def test_per_element_is_capped_and_extrapolated(pool):
    wl = create("numbers", "tiny")
    out = wl.run(pool, "per_element")
    assert 50 <= out.n_tasks <= wl.params["per_element_cap"] < wl.params["n"]
    m = out.metrics
    # fixed cost + cost per element (fitted on two prefixes) x every element
    assert m["capped"] and m["fixed_s"] >= 0 and m["per_task_s"] > 0
    assert m["extrapolated_full_s"] == pytest.approx(
        m["fixed_s"] + m["per_task_s"] * wl.params["n"]
    )


def test_request_response_latency_is_measured(pool):
    wl = create("jobs", "tiny")
    out = wl.run(pool, "request_response")
    lat = out.metrics["latency_ms"]
    # each round trip includes the job's own sleep
    assert lat["p50"] >= wl.params["sleep_s"] * 1e3
    assert lat["p50"] <= lat["p99"]


def test_partial_per_element_run_does_not_verify():
    from distlab.workloads import RunOutput

    wl = create("numbers", "tiny")
    golden = wl.golden()
    capped = {"elements": 500, "capped": True}
    assert wl.verify(RunOutput(golden[:500], metrics=capped), "per_element")[0]
    for partial in (golden[:3], golden[:0]):
        ok, detail = wl.verify(RunOutput(partial, metrics=capped), "per_element")
        assert not ok and "expected 500" in detail
    # a batched run is never a prefix
    ok, _ = wl.verify(RunOutput(golden[:500], metrics=capped), "batched")
    assert not ok


def test_jobs_result_length_is_checked_per_variant():
    from distlab.workloads import RunOutput

    wl = create("jobs", "tiny")
    n, k = wl.params["n"], wl.params["requests"]
    batch = [f"Processed Task-{i}" for i in range(n)]
    loop = [f"Processed Task-{i % n}" for i in range(k)]
    assert wl.verify(RunOutput(batch), "batch")[0]
    assert wl.verify(RunOutput(loop), "request_response")[0]
    assert not wl.verify(RunOutput(loop), "batch")[0]
    assert not wl.verify(RunOutput(batch), "request_response")[0]


# -- a task's own error is not a lost task ---------------------------------------------
class JobsNeedingAModule(Jobs):
    """The jobs workload whose task fails on the worker with ImportError, as it does on a
    worker that lacks a module the task needs."""

    task = staticmethod(probes.import_missing)


@pytest.mark.parametrize("variant", ["batch", "request_response"])
def test_a_task_error_fails_the_cell_with_its_own_message(pool, variant):
    """It used to be swallowed and counted as lost: '10 of 10 results missing'."""
    from distlab.contracts import error_line
    from distlab.run.measure import run_cell
    from distlab.run.model import EngineJob

    wl = JobsNeedingAModule("tiny")
    job = EngineJob(engine="local", workloads=["jobs"], size="tiny", repeats=1, warmup=0)
    with pytest.raises(ImportError) as info:
        run_cell(pool, wl, variant, job)
    # the cell's error is the task's own (run_engine records error_line(exc)), and the
    # worker's traceback comes with it
    assert error_line(info.value).startswith("ModuleNotFoundError: No module named")
    remote = "".join(traceback.format_exception(info.value))
    assert "import_missing" in remote and "no_such_module_on_this_worker" in remote


def test_only_a_lost_task_counts_as_lost():
    """A killed process-pool worker: the pool fails every task it held (BrokenProcessPool),
    which the engine raises as TaskLost and gather_counting_lost counts; a task error in
    the same gather is raised."""
    with distlab.engine("local", workers=2) as eng:
        failing = [eng.submit(probes.import_missing, "x")]
        with pytest.raises(ImportError):
            gather_counting_lost(failing)
        futures = [eng.submit(probes.pid_after, 2.0) for _ in range(4)]
        time.sleep(0.5)
        os.kill(eng.worker_pids()[0], signal.SIGKILL)  # a pool worker this test started
        results, lost = gather_counting_lost(futures)
        assert lost == results.count(None) and lost >= 1
        with pytest.raises(TaskLost):
            futures[0].result()
        # the engine goes on with a fresh pool
        assert eng.map(probes.square, [3]) == [9]


# -- the answer each verified cell records ---------------------------------------------
def test_a_verified_cell_records_its_answer(pool):
    from distlab.run.measure import run_cell
    from distlab.run.model import CellRecord, EngineJob

    job = EngineJob(engine="local", workloads=["squares"], size="tiny", repeats=1, warmup=0)
    cell = run_cell(pool, create("squares", "tiny"), "default", job)
    assert cell.verified and cell.answer["value"] == [x * x for x in range(10)]
    body = json.dumps([x * x for x in range(10)], separators=(",", ":"))
    assert cell.answer["checksum"] == "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    # a large answer: length, both ends and a checksum anyone can recompute
    wl = create("numbers", "tiny")
    cell = run_cell(pool, wl, "batched", EngineJob(engine="local", workloads=["numbers"], size="tiny", repeats=1, warmup=0))
    golden = np.asarray(wl.golden(), dtype="<f8")
    assert cell.answer["length"] == len(golden) and "value" not in cell.answer
    assert cell.answer["first"] == golden[:3].tolist()
    assert cell.answer["last"] == golden[-3:].tolist()
    assert cell.answer["checksum"] == "sha256:" + hashlib.sha256(golden.tobytes()).hexdigest()
    # it travels in the results file
    again = CellRecord.from_dict(json.loads(json.dumps(cell.to_dict())))
    assert again.answer == cell.answer
