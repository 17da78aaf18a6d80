"""``distlab bench streams``: each stream engine's highest sustained rate, found by search,
next to the raw pipe's (the ceiling: the same producer, broker and reader with a plain
copy loop between, distlab.services.kafka.pipe), all on Apache Kafka. The search and its
rules are distlab.workloads.stream_search; here it runs with the full plan (5 s of steady
state per point, bisection to within 10%).
"""

from __future__ import annotations

import time
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.workloads import create as create_workload
from distlab.workloads.stream_search import SearchPlan, measure_point, search, search_raw_pipe

DEFAULTS: dict[str, Any] = {**SearchPlan().to_dict(), "size": "default", "query": "windows"}


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}


def _plan(p: dict[str, Any]) -> SearchPlan:
    return SearchPlan(**{k: p[k] for k in SearchPlan().to_dict()})


def _spec_maker(p: dict[str, Any]):
    wl = create_workload(
        "stream", p["size"], **({"bootstrap": p["bootstrap"]} if p.get("bootstrap") else {})
    )
    return lambda rate, n_events: wl.spec(rate=rate, n_events=n_events, query=p["query"])


def streams_cell(job: BenchJob) -> dict[str, Any]:
    """An engine's search (runs inside the engine's own process)."""
    from distlab.services.kafka.broker import KafkaBroker

    p = _params(job.params)
    plan = _plan(p)
    eng = registry.create(job.engine, address=job.address, workers=job.workers)
    t0 = time.perf_counter()
    eng.start()
    out: dict[str, Any] = {"engine": job.engine, "startup_s": time.perf_counter() - t0}
    # engines without a broker of their own share one per cell (not one per point)
    broker = KafkaBroker().start() if eng.broker() is None and not p.get("bootstrap") else None
    try:
        if broker is not None:
            p["bootstrap"] = broker.bootstrap
        make_spec = _spec_maker(p)

        def measure(rate: float) -> dict[str, Any]:
            return measure_point(eng.run_stream, make_spec(rate, plan.n_events(rate)), plan)[0]

        out.update(search(measure, plan))
    finally:
        eng.close()
        if broker is not None:
            broker.stop()
    return out


def pipe_row(params: dict[str, Any]) -> dict[str, Any]:
    """The raw pipe's search (in the calling process; its loop runs in a process of its
    own), on one broker for every point."""
    p = _params(params)
    return {"engine": "raw pipe", **search_raw_pipe(_plan(p), _spec_maker(p))}
