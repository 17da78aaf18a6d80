"""What is timed, what is ranked, and how often: only the work inside a timed region,
streams ranked by what they achieved, repetitions that stop once the runs agree."""

from __future__ import annotations

import os
import time

import psutil
import pytest

import distlab
from distlab.procs import pss_mb, rss_mb
from distlab.report import compare, recommend
from distlab.run import repetitions
from distlab.run.measure import run_cell
from distlab.run.model import EngineJob
from distlab.workloads import create
from docs import document


@pytest.fixture(scope="module")
def pool():
    with distlab.engine("local", workers=2) as eng:
        yield eng


def test_numbers_times_only_the_engine_work(pool):
    """The serialisation round trip the workload measures of its own run (its breakdown)
    is harness work: it must lie outside the timed region. A given batch size calibrates
    nothing, so the run's time beyond its timed region is that measurement and little
    else, and the timed region is short of the whole by at least what it measured."""
    wl = create("numbers", "tiny", n=200_000)  # a round trip of ms, far above timer noise
    t0 = time.perf_counter()
    out = wl.run_batched(pool, 20_000)  # ten batches: a round trip not measured before
    whole = time.perf_counter() - t0
    serialization = out.metrics["breakdown_s"]["serialization"]
    assert out.metrics["batch_size_chosen"] == "given" and serialization > 0
    assert out.wall_s is not None and 0 < out.wall_s <= whole - serialization
    assert wl.verify(out, "batched")[0]


def test_per_element_extrapolation_fits_fixed_plus_per_element_cost(pool):
    wl = create("numbers", "tiny")
    out = wl.run(pool, "per_element")
    m = out.metrics
    small, cap = m["fit_prefixes"]
    assert small < cap == m["elements"] and m["fixed_s"] >= 0 and m["per_task_s"] >= 0
    assert m["extrapolated_full_s"] == pytest.approx(m["fixed_s"] + m["per_task_s"] * 20_000)
    assert wl.verify(out, "per_element")[0]


def test_a_kill_that_loses_tasks_keeps_its_fault_record(pool):
    # the process pool loses a killed worker's in-flight tasks (as the standard library
    # defines): the cell fails, and the record still says what was killed and when
    wl = create("squares", "tiny")
    job = EngineJob(engine="local", workloads=["squares"], size="tiny", repeats=3, warmup=1, kill_worker=True)
    cell = run_cell(pool, wl, "default", job)
    assert cell.status == "failed" and cell.lost > 0
    assert cell.fault["killed_pid"] > 0 and cell.fault["in_flight"] is True
    assert cell.fault["faulted_wall_s"] > 0


def test_repetitions_stop_when_the_runs_agree_or_the_budget_is_spent():
    steady = [1.0, 1.01, 0.99]
    assert repetitions.enough(steady, minimum=3)
    assert not repetitions.enough(steady[:2], minimum=3)
    # noisy runs, each a tenth of the extra repetitions' budget: more while it lasts
    noisy = [x * repetitions.EXTRA_BUDGET_S / 10 for x in (0.5, 1.0, 1.6)]
    assert not repetitions.enough(noisy, minimum=3)
    assert repetitions.enough(noisy * 5, minimum=3)  # MAX_REPEATS reached
    assert repetitions.enough([2.0, 4.0, 7.0, 5.0, 6.0], minimum=3)  # past the budget
    # a noisy cell whose next run alone would pass the budget stops at the minimum
    assert repetitions.enough([x * 100 for x in noisy], minimum=3)
    # two steady runs are enough by default; a long run is measured once, unless the
    # user asked for more repetitions than the default
    assert repetitions.enough([1.0, 1.01], minimum=repetitions.DEFAULT_REPEATS)
    assert repetitions.enough([12.0], minimum=2, longest_run_s=12.5)
    assert not repetitions.enough([12.0], minimum=3, longest_run_s=12.5)
    assert not repetitions.enough([], minimum=2, longest_run_s=12.5)


def test_memory_is_pss_without_double_counting():
    procs = [psutil.Process(os.getpid())]
    assert 0 < pss_mb(procs) <= rss_mb(procs) * 1.01


def _stream_cell(engine: str, rate: float | None, wall_s: float) -> dict:
    return {
        "engine": engine,
        "workload": "stream",
        "variant": "sweep",
        "status": "ok",
        "verified": True,
        "wall_s": wall_s,
        "wall": {"median": wall_s, "min": wall_s, "max": wall_s, "samples": [wall_s] * 3},
        "metrics": {"max_sustained_rate": rate, "work_fraction": None},
    }


def _doc(cells: list[dict]):
    return document(cells, settings={"size": "tiny"})


def test_streams_are_ranked_by_sustained_rate_never_by_time():
    # the engine that sustained nothing finished its (short) sweep sooner
    doc = _doc([_stream_cell("fast-fail", None, 2.0), _stream_cell("steady", 16000.0, 9.0)])
    assert not [f for f in recommend.winners(doc) if f.workload == "stream"]
    (ranking,) = recommend.stream_rankings(doc)
    assert ranking.figures["ranking"][0] == ("steady", 16000.0)
    assert "Sustained nothing: fast-fail" in ranking.text


def test_compare_reads_a_lower_sustained_rate_as_worse():
    a = _doc([_stream_cell("kafka", 16000.0, 9.0)])
    b = _doc([_stream_cell("kafka", 8000.0, 5.0)])  # less time, but half the rate
    (row,) = compare.compare(a, b).rows
    assert row.ratio == pytest.approx(2.0) and "worse in B" in row.note
