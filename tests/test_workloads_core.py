"""W1 squares, W2 numbers, W6 jobs, W8 wordcount on the process-pool engine (real pool)."""

from __future__ import annotations

import pytest

import distlab
from distlab.workloads import create
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
    assert m["capped"] and m["extrapolated_full_s"] == pytest.approx(
        m["per_task_s"] * wl.params["n"]
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
