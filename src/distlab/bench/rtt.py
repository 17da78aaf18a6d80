"""``distlab bench rtt``: how each engine's tiny tasks degrade when a network round trip
costs milliseconds, measured at 0 ms and at the chosen round-trip time in one run.

For each round-trip time in turn, the test hosts are brought up (distlab.hosts.netns),
each engine is deployed across them by its own tooling (distlab.engines.<name>.hosts), and the
tiny-tasks benchmark (distlab.bench.tasks.tiny_tasks_cell: no-op tasks/s through ``map``, and
sequential one-task round trips), then the jobs workload's request/response loop (its
default size: a 40 ms job every 100 ms, round-trip p50 and p99), run in an engine process
on the driver's host h0 against that deployment. Without netem the delay is a Toxiproxy
in front of each client -> server link it can sit on; at 0 ms the same proxies are there
without delay, so the two points differ by the delay alone. Each row says which links
carried the delay.

The change per millisecond of round trip (a slope) is computed from at least
``MIN_SAMPLES`` samples at each point (tasks/s per batch, the one-task round trip's p50
per group of round trips, the jobs loop's p50 per run), given with the range the
samples' extremes allow. An engine none of whose links carried the delay gets no slope:
its figures at the two points differ by noise alone, and a flat slope there would read
as an engine the round trip does not touch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.bench.rtt_query import QUERY_KEY
from distlab.bench.runner import bench_job, measure
from distlab.bench.tasks import tiny_tasks_cell
from distlab.contracts import DistlabError
from distlab.hosts import netns
from distlab.hosts.toxiproxy import check_rtt
from distlab.run.on_hosts import deploy_engine

#: the fewest samples at each round trip a slope is computed from
MIN_SAMPLES = 3
#: what a row says instead of slopes when none of the engine's links carried the delay
NO_DELAYED_LINK = "no delayed link"


def run_rtt(
    engines: list[str],
    n_hosts: int,
    rtt_ms: float,
    params: dict[str, Any],
    progress: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Per engine: its tiny-tasks figures at 0 ms and at ``rtt_ms``, and the change per
    millisecond of round trip."""
    if rtt_ms <= 0:
        raise DistlabError("--rtt must be > 0 (0 ms is always measured as the baseline)")
    check_rtt(rtt_ms, "--rtt")
    if params.get("repeats", 0) < MIN_SAMPLES:
        raise DistlabError(
            f"--repeats must be >= {MIN_SAMPLES} for bench rtt: each slope per ms of round "
            f"trip comes from at least {MIN_SAMPLES} samples at each round trip"
        )
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name in engines:
        for kind in _kinds(name, params):
            row: dict[str, Any] = {"engine": name, "points": []}
            if kind == "dataframe":
                row[QUERY_KEY] = params[QUERY_KEY]
            rows[(name, kind)] = row
    for rtt in (0.0, rtt_ms):
        hosts = netns.up(n_hosts, rtt_ms=rtt, proxied=True)
        try:
            for name in engines:
                progress(f"measuring {name} at {rtt:g} ms round trip ...")
                for kind, point in _point(name, hosts, params).items():
                    rows[(name, kind)]["points"].append({"rtt_ms": rtt, **point})
        finally:
            netns.down()
    tasks = [with_slopes(r) for (_, kind), r in rows.items() if kind == "tasks"]
    return tasks + [query_slopes(r) for (_, kind), r in rows.items() if kind == "dataframe"]


def _kinds(name: str, params: dict[str, Any]) -> list[str]:
    """The rows an engine gets: tiny tasks where it runs tasks, a query where it runs
    dataframe queries and one is asked for."""
    shapes = registry.entry(name).shapes
    kinds = ["tasks"] if "tasks" in shapes else []
    return kinds + (["dataframe"] if "dataframe" in shapes and params.get(QUERY_KEY) else [])


def _point(name: str, hosts: netns.TestHosts, params: dict[str, Any]) -> dict[str, dict]:
    """Each of the engine's rows' figures at this round trip (kind -> point), measured
    on one deployment."""
    params = {**params, "workers": params.get("workers") or 2}
    kinds = _kinds(name, params)
    try:
        dep = deploy_engine(name, hosts, params["workers"])
    except (DistlabError, OSError, TimeoutError) as exc:
        return {kind: {"error": f"deploying {name} failed: {exc}"} for kind in kinds}
    try:
        job = bench_job(name, params, dep.address, dep.options)
        # what the proxies added (twice their whole ms each way), beside what was asked
        applied = {v for tp in dep.toxiproxies.values() for v in tp.applied_rtt_ms.values()}
        where = {
            "links": dict(dep.links),
            "placement": dict(dep.placement),
            "proxies_rtt_ms": sorted(applied),
        }
        points = {}
        for kind in kinds:
            figures = measure("rtt" if kind == "tasks" else "rtt-query", job,
                              wrap=dep.driver.command([]))  # fmt: skip
            figures.pop("engine", None)
            points[kind] = {**figures, **where} if "error" not in figures else figures
        return points
    finally:
        dep.stop()


def rtt_cell(job: BenchJob) -> dict[str, Any]:
    """In the engine process: the tiny-tasks figures, then, on a new engine of the same
    deployment, the one-task round trip's p50 per group of round trips and verified runs
    of the jobs request/response loop, ``repeats`` of each (the slopes' samples)."""
    from distlab import probes
    from distlab.stats import percentiles
    from distlab.workloads import create

    out = tiny_tasks_cell(job)
    repeats, round_trips = job.params["repeats"], job.params["round_trips"]
    jobs = create("jobs", "default")
    latencies: list[float] = []
    with registry.create(
        job.engine, address=job.address, workers=job.workers, **job.options
    ) as eng:
        eng.submit(probes.noop, 0).result()  # the new engine's first task is not a sample
        out["rt_p50_samples_ms"] = []
        for _ in range(repeats):
            trips = []
            for i in range(max(1, round_trips // repeats)):
                t = time.perf_counter()
                eng.submit(probes.noop, i).result()
                trips.append((time.perf_counter() - t) * 1e3)
            out["rt_p50_samples_ms"].append(statistics.median(trips))
        out["jobs_p50_samples_ms"] = []
        for _ in range(repeats):
            output = jobs.run(eng, "request_response")
            ok, note = jobs.verify(output, "request_response")
            if not ok:
                raise DistlabError(f"{job.engine}: the jobs request/response loop: {note}")
            out["jobs_p50_samples_ms"].append(output.metrics["latency_ms"]["p50"])
            latencies += output.metrics["latency_samples_ms"]
    out["jobs_rr_ms"] = percentiles(latencies, (50, 99))
    out["jobs_job_ms"] = output.metrics["job_ms"]
    return out


def delayed_links(links: dict[str, str]) -> list[str]:
    """The links a deployment put behind the delay (netem, or a Toxiproxy on them)."""
    return [k for k, v in links.items() if v.startswith(("Toxiproxy", "netem"))]


def with_slopes(row: dict[str, Any]) -> dict[str, Any]:
    """Adds, when both points were measured and some link carried the delay, each slope
    with the range its samples' extremes allow (``<name>_range``):
    ``rt_p50_ms_per_rtt_ms`` (how many ms the round trip grew per ms of network round
    trip: about the number of network round trips a task makes on delayed links),
    ``tasks_per_s_loss_per_rtt_ms`` (the share of tiny-task throughput lost per ms) and
    ``jobs_p50_ms_per_rtt_ms``; a slope with fewer than MIN_SAMPLES samples at either
    point is left out. With no delayed link: ``slopes_blank`` says so, and no slope."""
    if not _comparable(row):
        return row
    points = row["points"]
    base, delayed = points
    d_rtt = delayed["rtt_ms"] - base["rtt_ms"]
    for name, key in (
        ("rt_p50_ms_per_rtt_ms", "rt_p50_samples_ms"),
        ("jobs_p50_ms_per_rtt_ms", "jobs_p50_samples_ms"),
    ):
        slope = _growth(base.get(key) or [], delayed.get(key) or [], d_rtt)
        if slope is not None:
            row[name], row[f"{name}_range"] = slope
    rates = [[p["n"] / s for s in p.get("adapter_samples_s") or []] for p in points]
    loss = _loss(rates[0], rates[1], d_rtt)
    if loss is not None:
        row["tasks_per_s_loss_per_rtt_ms"], row["tasks_per_s_loss_per_rtt_ms_range"] = loss
    return row


def _comparable(row: dict[str, Any]) -> bool:
    """Whether a row's two points can give a slope: both measured (else the first
    point's error is the row's) and some link carried the delay (else ``slopes_blank``
    says none did); records the delayed links on the row."""
    points = row["points"]
    errors = [p["error"] for p in points if "error" in p]
    if errors or len(points) != 2:
        if errors:
            row["error"] = errors[0]
        return False
    row["delayed_links"] = delayed_links(points[1].get("links") or {})
    if not row["delayed_links"]:
        row["slopes_blank"] = NO_DELAYED_LINK
        return False
    return True


def query_slopes(row: dict[str, Any]) -> dict[str, Any]:
    """A dataframe row's slope, when both points were measured and some link carried the
    delay: ``query_p50_ms_per_rtt_ms``, how many ms the query's median time grew per ms
    of round trip (about the delayed round trips on its critical path), with its range;
    with no delayed link ``slopes_blank`` says so."""
    if not _comparable(row):
        return row
    points = row["points"]
    base, delayed = points
    at_0, at_rtt = ([s * 1e3 for s in p.get("query_samples_s") or []] for p in points)
    slope = _growth(at_0, at_rtt, delayed["rtt_ms"] - base["rtt_ms"])
    if slope is not None:
        row["query_p50_ms_per_rtt_ms"], row["query_p50_ms_per_rtt_ms_range"] = slope
    return row


def _growth(at_0: list[float], at_rtt: list[float], d_rtt: float):
    """(median growth per ms, [least, most] the extremes allow), or None on too few."""
    if min(len(at_0), len(at_rtt)) < MIN_SAMPLES:
        return None
    mid = (statistics.median(at_rtt) - statistics.median(at_0)) / d_rtt
    return mid, [(min(at_rtt) - max(at_0)) / d_rtt, (max(at_rtt) - min(at_0)) / d_rtt]


def _loss(at_0: list[float], at_rtt: list[float], d_rtt: float):
    """(share of throughput lost per ms, [least, most]), or None on too few samples."""
    if min(len(at_0), len(at_rtt)) < MIN_SAMPLES:
        return None
    mid = (1 - statistics.median(at_rtt) / statistics.median(at_0)) / d_rtt
    return mid, [(1 - max(at_rtt) / min(at_0)) / d_rtt, (1 - min(at_rtt) / max(at_0)) / d_rtt]
