"""``distlab bench rtt``: how each engine's tiny tasks degrade when a network round trip
costs milliseconds, measured at 0 ms and at the chosen round-trip time in one run.

For each round-trip time in turn, the test hosts are brought up (distlab.hosts.netns),
each engine is deployed across them by its own tooling (distlab.hosts.<engine>), and the
tiny-tasks benchmark (distlab.bench.tiny_tasks_cell: no-op tasks/s through ``map``, and
sequential one-task round trips), then the jobs workload's request/response loop (its
default size: a 40 ms job every 100 ms, round-trip p50 and p99), run in an engine process
on the driver's host h0 against that deployment. Without netem the delay is a Toxiproxy in front of each client
-> server link it can sit on; at 0 ms the same proxies are there without delay, so the
two points differ by the delay alone. Each row says which links carried the delay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlab import bench, registry
from distlab.contracts import DistlabError
from distlab.hosts import netns
from distlab.run.model import EngineJob
from distlab.run.on_hosts import deploy_engine


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
    rows: dict[str, dict[str, Any]] = {e: {"engine": e, "points": []} for e in engines}
    for rtt in (0.0, rtt_ms):
        hosts = netns.up(n_hosts, rtt_ms=rtt, proxied=True)
        try:
            for name in engines:
                progress(f"measuring {name} at {rtt:g} ms round trip ...")
                rows[name]["points"].append({"rtt_ms": rtt, **_point(name, hosts, params)})
        finally:
            netns.down()
    return [_with_slopes(row) for row in rows.values()]


def _point(name: str, hosts: netns.TestHosts, params: dict[str, Any]) -> dict[str, Any]:
    params = {**params, "workers": params.get("workers") or 2}
    try:
        dep = deploy_engine(name, hosts, params["workers"])
    except (DistlabError, OSError, TimeoutError) as exc:
        return {"error": f"deploying {name} failed: {exc}"}
    try:
        job = bench.bench_job(name, params, dep.address, dep.options)
        figures = bench.measure("rtt", job, wrap=dep.driver.command([]))
        figures.pop("engine", None)
        return {**figures, "links": dict(dep.links), "placement": dict(dep.placement)}
    finally:
        dep.stop()


def rtt_cell(job: EngineJob) -> dict[str, Any]:
    """In the engine process: the tiny-tasks figures, then one verified run of the jobs
    request/response loop on a new engine of the same deployment."""
    from distlab.workloads import create

    out = bench.tiny_tasks_cell(job)
    jobs = create("jobs", "default")
    with registry.create(
        job.engine, address=job.address, workers=job.workers, **job.options
    ) as eng:
        output = jobs.run(eng, "request_response")
    ok, note = jobs.verify(output, "request_response")
    if not ok:
        raise DistlabError(f"{job.engine}: the jobs request/response loop: {note}")
    out["jobs_rr_ms"] = output.metrics["latency_ms"]
    out["jobs_job_ms"] = output.metrics["job_ms"]
    return out


def _with_slopes(row: dict[str, Any]) -> dict[str, Any]:
    """Adds, when both points were measured: ``rt_p50_ms_per_rtt_ms`` (how many ms the
    round trip grew per ms of network round trip: about the number of network round
    trips a task makes on delayed links) and ``tasks_per_s_loss_per_rtt_ms`` (the share
    of tiny-task throughput lost per ms)."""
    points = row["points"]
    if len(points) != 2 or any("error" in p for p in points):
        errors = [p["error"] for p in points if "error" in p]
        if errors:
            row["error"] = errors[0]
        return row
    base, delayed = points
    d_rtt = delayed["rtt_ms"] - base["rtt_ms"]
    rt0, rt1 = base["adapter_rt_ms"]["p50"], delayed["adapter_rt_ms"]["p50"]
    tps0, tps1 = base["adapter_tasks_per_s"], delayed["adapter_tasks_per_s"]
    row["rt_p50_ms_per_rtt_ms"] = (rt1 - rt0) / d_rtt
    row["tasks_per_s_loss_per_rtt_ms"] = (1 - tps1 / tps0) / d_rtt
    if "jobs_rr_ms" in base and "jobs_rr_ms" in delayed:
        row["jobs_p50_ms_per_rtt_ms"] = (
            delayed["jobs_rr_ms"]["p50"] - base["jobs_rr_ms"]["p50"]
        ) / d_rtt
    return row
