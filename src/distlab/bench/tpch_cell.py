"""One engine's TPC-H at one scale factor, inside its engine process (``bench tpch``).

The engine starts once (its start-up timed apart); then, query by query: a first run,
then ``repeats`` warm runs, each timed around ``run_query`` alone (:mod:`distlab
.workloads.queries`), with the peak memory of the engine's process tree and of its spill
folders over the query's runs. Each answer is compared, after its clock stops, with
TPC-H's answer set where one exists at this scale; otherwise its normalised rows go back
to the parent, which checks that the engines agree. A row is emitted per query as soon
as it is done, so a query that is stopped (time or memory limit) is known by the parent
as the one that was running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import error_line
from distlab.procs import PeakMemory
from distlab.stats import summarize
from distlab.workloads import answers
from distlab.workloads.tpch import Tpch


def tpch_cell(job: BenchJob, emit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    p = job.params
    workload = Tpch("tiny", scale_factor=p["sf"], queries=p["queries"], data_dir=p.get("data_dir"))
    engine = registry.create(job.engine, address=job.address, workers=job.workers,
                             **job.options)  # fmt: skip
    t0 = time.perf_counter()
    with engine:
        startup = time.perf_counter() - t0
        emit({"engine": job.engine, "sf": p["sf"], "event": "started",
              "startup_s": round(startup, 3), "interface": engine.interface,
              "workers": engine.workers})  # fmt: skip
        for name in workload.queries:
            emit({"engine": job.engine, "sf": p["sf"], "event": "running", "query": name})
            emit(
                _query_row(engine, workload, name, p["repeats"])
                | {"engine": job.engine, "sf": p["sf"]}
            )
    return {"engine": job.engine, "sf": p["sf"], "event": "done"}


def _query_row(engine, workload: Tpch, name: str, repeats: int) -> dict[str, Any]:
    row: dict[str, Any] = {"event": "query", "query": name}
    why = engine.unsupported(workload.queries[name])
    if why:
        return row | {"status": "unsupported", "reason": why}
    outputs, walls = [], []
    try:
        with PeakMemory(roots=engine.process_roots) as memory:
            for _ in range(1 + repeats):
                out = workload.run(engine, name)
                outputs.append(out)
                walls.append(out.wall_s)
    except Exception as exc:  # the engine's own failure (e.g. a JVM out of memory)
        return row | {"status": "failed", "reason": error_line(exc)}
    got = answers.normalise(outputs[-1].result.rows)
    columns = outputs[-1].result.columns
    # the same query, another answer (beyond the tolerance: a parallel float sum may
    # differ in its last digits from one run to the next)
    unstable = any(answers.compare(answers.normalise(o.result.rows), got, columns)
                   for o in outputs[:-1])  # fmt: skip
    row |= {
        "status": "ok",
        "first_s": round(walls[0], 4),
        "warm": summarize(walls[1:]) if repeats else None,
        "peak_mem_mb": round(memory.peak_mb, 1),
        "spill_peak_mb": max(o.metrics["spill_peak_mb"] for o in outputs),
        "rows_scanned": outputs[-1].metrics["rows_scanned"],
        "checksum": answers.checksum(got),
        "answer": got,
    }
    official = workload.official_answer(name)
    if official is not None:
        columns, want, rounding = official
        wrong = answers.compare(got, want, columns, rounding)
        row["checked_by"] = workload.answer_set_name()
        row["verified"] = wrong is None
        if wrong:
            row |= {"status": "wrong", "reason": f"wrong answer: {wrong}"}
    if unstable:
        row |= {"status": "wrong", "reason": "wrong answer: its runs gave different answers"}
    return row
