"""``distlab bench streams``: each stream engine's highest sustained rate, found by search,
next to the raw pipe's (the ceiling: the same producer, broker and reader with a plain
copy loop between, distlab.services.kafka.pipe), all on Apache Kafka.

A point runs the stream workload's query (filter + keyed tumbling windows) at one offered
rate for ``warmup_s + seconds`` of intended send time; its latency percentiles leave the
warm-up out and are taken against intended send times (no coordinated omission), and its
windows are checked exactly against the golden at every point. A point is sustained when
nothing was lost, throughput reached 95% of the offered rate and p99 stayed under the
bound; it is invalid (the load generator's limit, not the engine's) when the sender sent
more than SENDER_LATE_LIMIT of its events over 5 ms behind their intended times (one
scheduling hiccup is not a sender that fell behind; the worst lag is shown too).

Before the search, a throw-away stream at the first rate warms the engine up (its first
job, JIT compilation, connections): without it the first point measures start-up.

The search doubles the rate from ``start_rate`` until a point is not sustained (or the
sender cannot keep up, or ``max_rate``), then bisects between the last sustained rate and
the first failed one until they are within ``precision`` of each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from distlab import registry
from distlab.contracts import StreamResult, StreamSpec
from distlab.contracts.streams import passing_ids
from distlab.run.model import EngineJob
from distlab.workloads import create as create_workload
from distlab.workloads.stream import check_sink, stream_figures, sustained

#: a point whose sender sent more than this share of events late measures the sender
SENDER_LATE_LIMIT = 0.01
#: below this rate the search stops looking for a sustained one
LOWEST_RATE = 100.0

DEFAULTS: dict[str, Any] = {
    "seconds": 5.0,
    "warmup_s": 1.0,
    "start_rate": 2000.0,
    "max_rate": 512_000.0,
    "precision": 0.10,
    "p99_bound_ms": 1000.0,
    "size": "default",
}


def measure_point(
    run_stream: Callable[[StreamSpec], StreamResult], rate: float, p: dict[str, Any], raw_pipe: bool
) -> dict[str, Any]:
    """One stream at ``rate``: its figures, whether it was sustained, valid and exact."""
    wl = create_workload(
        "stream", p["size"], **({"bootstrap": p["bootstrap"]} if p.get("bootstrap") else {})
    )
    n_events = max(1, int(rate * (p["seconds"] + p["warmup_s"])))
    spec = wl.spec(rate=rate, n_events=n_events)
    raw = run_stream(spec)
    events = spec.events()
    expected = [e[0] for e in events] if raw_pipe else passing_ids(events, spec.filter_min)
    point = stream_figures(spec, raw, expected, warmup_s=p["warmup_s"])
    sink = point.pop("sink")
    point.pop("latency_samples_ms")
    if raw_pipe:
        problem = None if not point["lost"] else f"{point['lost']} events never arrived"
    else:
        problem = check_sink(sink, wl._golden_for(spec))
    point["verified"] = problem is None
    if problem:
        point["problem"] = problem
    point["send_lag_ms"] = round(raw.send_lag_s * 1e3, 2)
    point["sent_late_share"] = round(raw.send_late_share, 4)
    point["valid"] = raw.send_late_share <= SENDER_LATE_LIMIT
    point["sustained"] = (
        point["valid"] and point["verified"] and sustained(point, p["p99_bound_ms"])
    )
    return point


def search(measure: Callable[[float], dict[str, Any]], p: dict[str, Any]) -> dict[str, Any]:
    """The highest sustained rate (doubling, then bisection to ``precision``)."""
    points: list[dict[str, Any]] = []

    def at(rate: float) -> dict[str, Any]:
        point = measure(rate)
        points.append(point)
        return point

    good, bad, rate = None, None, float(p["start_rate"])
    measure(rate)  # the warm-up stream: not a point
    while True:
        point = at(rate)
        if point["sustained"]:
            good = rate
            if rate * 2 > p["max_rate"]:
                break
            rate *= 2
        elif good is None and point["valid"] and rate / 2 >= LOWEST_RATE:
            rate /= 2  # not even the first rate: look lower
        else:
            bad = rate
            break
    while good is not None and bad is not None and (bad - good) / good > p["precision"]:
        mid = round((good + bad) / 2)
        point = at(mid)
        if point["sustained"]:
            good = mid
        elif not point["valid"]:
            bad = mid  # the sender's limit: nothing above it can be measured here
        else:
            bad = mid
    best = next((pt for pt in points if good is not None and pt["offered_rate"] == good), None)
    return {
        "best_rate": good,
        "first_failed_rate": bad,
        "at_best": best,
        "points": sorted(points, key=lambda pt: pt["offered_rate"]),
        "all_verified": all(pt["verified"] for pt in points),
        "sender_limited": any(not pt["valid"] for pt in points),
    }


def _params(job: EngineJob) -> dict[str, Any]:
    return {**DEFAULTS, **{k: v for k, v in job.params["bench"].items() if v is not None}}


def streams_cell(job: EngineJob) -> dict[str, Any]:
    """An engine's search (runs inside the engine's own process)."""
    from distlab.services.kafka.broker import KafkaBroker

    p = _params(job)
    eng = registry.create(job.engine, address=job.address, workers=job.workers)
    t0 = time.perf_counter()
    eng.start()
    out: dict[str, Any] = {"engine": job.engine, "startup_s": time.perf_counter() - t0}
    # engines without a broker of their own share one per cell (not one per point)
    broker = KafkaBroker().start() if eng.broker() is None and not p.get("bootstrap") else None
    try:
        if broker is not None:
            p["bootstrap"] = broker.bootstrap
        out.update(search(lambda rate: measure_point(eng.run_stream, rate, p, False), p))
    finally:
        eng.close()
        if broker is not None:
            broker.stop()
    return out


def pipe_row(params: dict[str, Any]) -> dict[str, Any]:
    """The raw pipe's search (in the calling process; its loop runs in a process of its
    own), on one broker for every point."""
    from distlab.services.kafka.broker import KafkaBroker
    from distlab.services.kafka.pipe import run_raw_pipe

    p = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    with KafkaBroker() as broker:
        p["bootstrap"] = p.get("bootstrap") or broker.bootstrap
        row = search(lambda rate: measure_point(run_raw_pipe, rate, p, True), p)
    return {"engine": "raw pipe", **row}
