"""Workloads gpu_queue, kfold and microscopy on real engines (process pool, embedded Dask),
at size tiny: each must verify, and each promise it makes is checked on its own."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import distlab
from distlab.contracts import DistlabError, UnsatisfiableResources
from distlab.workloads import create
from distlab.workloads.base import RunOutput
from distlab.workloads.gpu_queue import gpu_task
from distlab.workloads.kfold import load_data
from distlab.workloads.microscopy import StepFailed
from present import has_module

GPUS = 2
# skipped without Dask on a developer's machine; in CI (DISTLAB_REQUIRE_ENGINES) it runs
HAVE_DASK = has_module("distributed")
ENGINES = [
    "local",
    pytest.param(
        "dask", marks=pytest.mark.skipif(not HAVE_DASK, reason="dask engine not installed")
    ),
]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    eng = distlab.engine(request.param, workers=2, gpus=GPUS)
    eng.start()
    yield eng
    eng.close()


def run_verified(wl, eng, variant):
    t0 = time.perf_counter()
    out = wl.run(eng, variant)
    wall = time.perf_counter() - t0
    ok, detail = wl.verify(out, variant)
    assert ok, detail
    return out, wall


# -- W3 gpu_queue ---------------------------------------------------------------------------------
def test_gpu_queue_takes_ceil_n_over_r_rounds_on_distinct_units(engine):
    wl = create("gpu_queue", "tiny")
    wl.run(engine, "queue")  # warm-up: workers import the workload module
    out, _ = run_verified(wl, engine, "queue")
    m = out.metrics
    ideal = math.ceil(wl.params["n"] / GPUS) * wl.params["seconds"]
    assert m["ideal_s"] == pytest.approx(ideal)
    # never more than GPUS at once, so never faster than ceil(n / GPUS) rounds; how much
    # slower depends on the machine's speed, which a unit test does not judge
    assert m["measured_s"] >= ideal * 0.95, (m["measured_s"], ideal)
    assert m["peak_concurrency"] == GPUS
    assert {u for t in m["tasks"] for u in t["units"]} == {"0", "1"}
    assert out.result == [f"Task {i} complete" for i in range(wl.params["n"])]


def test_gpu_queue_impossible_request_fails_fast(engine):
    wl = create("gpu_queue", "tiny")
    out, wall = run_verified(wl, engine, "impossible")
    assert out.result["raised"] == "UnsatisfiableResources"
    assert wall < 10
    t0 = time.perf_counter()
    with pytest.raises(UnsatisfiableResources):
        engine.submit_with(gpu_task, (0, 0.0), resources={"GPU": GPUS + 1}).result(timeout=15)
    assert time.perf_counter() - t0 < 10


def test_gpu_queue_needs_declared_gpus():
    with distlab.engine("local", workers=1) as eng:
        with pytest.raises(DistlabError, match="--gpus"):
            create("gpu_queue", "tiny").run(eng, "queue")


def test_gpu_queue_verify_rejects_a_shared_unit():
    wl = create("gpu_queue", "tiny")
    tasks = [
        {"message": f"Task {i} complete", "units": ["0"], "start": 0.0, "end": 0.3}
        for i in range(4)
    ]
    metrics = {"tasks": tasks, "units": 2, "units_per_task": 1, "measured_s": 0.6, "ideal_s": 0.6}
    ok, detail = wl.verify(RunOutput([t["message"] for t in tasks], metrics=metrics), "queue")
    assert not ok and "overlapped on unit" in detail


# -- W4 kfold -------------------------------------------------------------------------------------
def sklearn_scores(X, y):
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.svm import SVC

    return list(cross_val_score(SVC(), X, y, cv=KFold(5, shuffle=True, random_state=42)))


@pytest.mark.parametrize("variant", ["shared", "by_value"])
def test_kfold_scores_equal_sklearn_exactly(engine, variant):
    wl = create("kfold", "tiny")
    out, _ = run_verified(wl, engine, variant)
    assert out.result == sklearn_scores(wl.X, wl.y)
    assert out.metrics["share_s"] >= 0 and out.metrics["rows"] == 150


def test_kfold_cell_records_its_five_scores_exactly(engine):
    """Anyone can re-check a kfold cell from results.json: the five scores themselves, not
    only their mean or a rounded string."""
    import json

    from distlab.run.measure import run_cell
    from distlab.run.model import CellRecord, EngineJob

    wl = create("kfold", "tiny")
    cell = run_cell(engine, wl, "shared", EngineJob(engine=engine.name, workloads=["kfold"], size="tiny", repeats=1, warmup=0))
    stored = CellRecord.from_dict(json.loads(json.dumps(cell.to_dict()))).answer
    assert stored["value"] == sklearn_scores(wl.X, wl.y) and stored["length"] == 5


def test_kfold_enlarged_data_are_deterministic(engine):
    X1, y1 = load_data(4)
    X2, y2 = load_data(4)
    assert X1.shape == (600, 4) and np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1[150:300], X1[:150])  # copies carry noise
    wl = create("kfold", "tiny", scale=4)
    out, _ = run_verified(wl, engine, "shared")
    assert out.result == sklearn_scores(X1, y1)


# -- W5 microscopy --------------------------------------------------------------------------------
def test_microscopy_recovers_from_injected_failures(engine):
    events = []
    wl = create("microscopy", "tiny", failure_rate=0.3, failure_seed=5)
    wl.monitor = lambda **ev: events.append(ev)
    out, _ = run_verified(wl, engine, "cold")
    assert out.metrics["retries"] > 0
    states = {e["state"] for e in events}
    assert {"running", "retry", "done"} <= states
    assert sum(e["state"] == "retry" for e in out.metrics["timeline"]) == out.metrics["retries"]


def test_microscopy_gives_up_after_max_retries(engine):
    events = []
    wl = create("microscopy", "tiny", failures={"capture-s1-b0": 4}, max_retries=3)
    wl.monitor = lambda **ev: events.append(ev)
    with pytest.raises(StepFailed, match="capture-s1-b0 failed after 4 attempts"):
        wl.run(engine, "cold")
    assert any(e["step"] == "capture-s1-b0" and e["state"] == "failed" for e in events)


def test_microscopy_stacks_while_capturing(engine):
    wl = create("microscopy", "tiny")
    out, _ = run_verified(wl, engine, "cold")
    m = out.metrics
    assert m["mode"] == ("actors" if engine.supports_actors else "tasks")
    assert m["critical_path_s"] < m["sum_of_steps_s"]
    done = {e["step"]: e for e in m["timeline"] if e["state"] == "done"}
    # the first batch is stacked while the camera captures the second
    assert done["stack-s0-b0"]["start"] < done["capture-s1-b0"]["end"]
    assert done["stack-s0-b0"]["end"] > done["capture-s1-b0"]["start"]


def test_microscopy_tasks_mode_verifies(engine):
    wl = create("microscopy", "tiny", mode="tasks")
    out, _ = run_verified(wl, engine, "cold")
    assert out.metrics["mode"] == "tasks"
    assert out.metrics["camera"]["images"] == 1 + 3 * wl.params["images_per_batch"]


def test_microscopy_cached_rerun_is_5x_faster(engine):
    wl = create("microscopy", "tiny")
    cold, cold_wall = run_verified(wl, engine, "cold")
    cached, cached_wall = run_verified(wl, engine, "cached")
    assert cold.metrics["cache_misses"] == 8 and cold.metrics["cache_hits"] == 0
    assert cached.metrics["cache_hits"] == 8 and cached.metrics["cache_misses"] == 0
    assert cached_wall * 5 <= cold_wall, (cached_wall, cold_wall)
    assert cached.result == cold.result
    # the cold variant clears the cache again
    again, _ = run_verified(wl, engine, "cold")
    assert again.metrics["cache_hits"] == 0


def test_microscopy_changed_input_invalidates_cache(engine, tmp_path):
    first = create("microscopy", "tiny", cache_dir=str(tmp_path))
    out1, _ = run_verified(first, engine, "cold")
    changed = create("microscopy", "tiny", cache_dir=str(tmp_path), sample_seed=8)
    out2, _ = run_verified(changed, engine, "cached")
    # only the z-positions step does not depend on the sample
    assert out2.metrics["cache_hits"] == 1 and out2.metrics["cache_misses"] == 7
    assert out2.result != out1.result
    same, _ = run_verified(changed, engine, "cached")
    assert same.metrics["cache_hits"] == 8
