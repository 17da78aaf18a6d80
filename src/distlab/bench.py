"""Benchmarks that print figures and ratios measured in one run.

``granularity``: W2 numbers at full size on each engine — the seed's per-element tasks
(on a capped prefix, extrapolated per task), batched tasks with the automatically chosen
batch size, and a sweep of batch sizes, beside the seed's sequential loop and vectorized
NumPy.

``tiny-tasks``: no-op tasks/s and round trips through distlab's adapter and through the
engine's own API, side by side.

Each engine is measured in an engine process of its own, started by the same launcher as
``distlab run`` (the engine's own interpreter; it dies with its parent).
"""

from __future__ import annotations

import importlib
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distlab import registry
from distlab.contracts import DistlabError
from distlab.run.launcher import EngineProcess
from distlab.run.model import BenchMeasured, EngineJob

#: the longest one engine's bench may take
BENCH_TIMEOUT_S = 1800.0


def sweep_sizes(n: int, workers: int) -> list[int]:
    """Batch sizes from 1,000 elements up to one batch per worker, in factors of ~4."""
    top = math.ceil(n / workers)
    sizes, b = [], 1_000
    while b < top:
        sizes.append(b)
        b *= 4
    return [*sizes, top]


def granularity_cell(job: EngineJob) -> dict[str, Any]:
    """Measure one engine (runs inside its own process).

    Every figure that enters a ratio (the loop, NumPy, the auto batch, each sweep size)
    is measured in the same rounds, one after another, with the order rotated per round:
    drift on a shared machine then moves them together instead of deciding the ratio.
    """
    import numpy as np

    from distlab.workloads.numbers import Numbers

    engine_name, workers, address = job.engine, job.workers, job.address
    n, cap, repeats = (job.params["bench"][k] for k in ("n", "cap", "repeats"))

    wl = Numbers("default", n=n, per_element_cap=cap)
    out: dict[str, Any] = {"engine": engine_name, "n": n, "rounds": repeats}
    wl.golden()
    array = np.asarray(wl.data)
    eng = registry.create(engine_name, address=address, workers=workers)
    t0 = time.perf_counter()
    eng.start()
    out["startup_s"] = time.perf_counter() - t0
    try:
        w = eng.workers or 1
        out["workers"] = w
        wl.run(eng, "batched")  # warm-up; also measures the per-task overhead once
        auto = wl.run(eng, "batched")
        out["auto_batch_size"] = auto.metrics["batch_size"]
        out["task_overhead_ms"] = auto.metrics["measured_task_overhead_ms"]
        out["element_us"] = auto.metrics["measured_element_us"]

        def batched(batch: int):
            return lambda: wl.run_batched(eng, batch)

        contenders: dict[str, Any] = {
            "sequential": wl.reference,
            "numpy": lambda: np.log(np.sqrt(np.abs(array))),
            "auto": batched(out["auto_batch_size"]),
        }
        sizes = sweep_sizes(n, w)
        for b in sizes:
            contenders[f"batch-{b}"] = batched(b)
        samples: dict[str, list[float]] = {k: [] for k in contenders}
        last: dict[str, Any] = {}
        names = list(contenders)
        for r in range(repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                t = time.perf_counter()
                last[name] = result = contenders[name]()
                wall = time.perf_counter() - t
                # a batched run times its own work (the engine calls, not its bookkeeping)
                samples[name].append(getattr(result, "wall_s", None) or wall)
                if name in ("sequential", "numpy"):
                    continue
                ok, detail = wl.verify(result, "batched")  # outside the timed region
                if not ok:
                    raise DistlabError(f"{engine_name} {name} wrong: {detail}")
        med = {k: statistics.median(v) for k, v in samples.items()}
        out["sequential_s"], out["numpy_s"], out["auto_s"] = (
            med["sequential"], med["numpy"], med["auto"])  # fmt: skip
        out["auto_samples"] = samples["auto"]
        out["breakdown_s"] = last["auto"].metrics["breakdown_s"]
        out["sweep"] = [
            {"batch_size": b, "wall_s": med[f"batch-{b}"], "samples": samples[f"batch-{b}"]}
            for b in sizes
        ]
        best = min(out["sweep"], key=lambda row: row["wall_s"])
        out["best_batch_size"], out["best_s"] = best["batch_size"], best["wall_s"]
        # the seed's per-element tasks, repeated like the others (each run fits a fixed
        # cost plus a cost per element on two prefixes, then extrapolates to all n)
        per_runs = []
        for _ in range(max(3, min(repeats, 5))):
            per_out = wl.run(eng, "per_element")
            ok, detail = wl.verify(per_out, "per_element")
            if not ok:
                raise DistlabError(f"{engine_name} per-element wrong: {detail}")
            per_runs.append(per_out.metrics)
        out["per_element_cap"] = per_runs[-1]["elements"]
        out["per_element_task_ms"] = statistics.median(m["per_task_s"] for m in per_runs) * 1e3
        out["per_element_fixed_s"] = statistics.median(m["fixed_s"] for m in per_runs)
        extrapolated = [m["extrapolated_full_s"] for m in per_runs]
        out["per_element_extrapolated_s"] = statistics.median(extrapolated)
        out["per_element_samples_s"] = extrapolated
    finally:
        eng.close()
    out["batched_vs_per_element"] = out["per_element_extrapolated_s"] / out["auto_s"]
    out["auto_vs_best"] = out["auto_s"] / out["best_s"]
    out["speedup_vs_sequential"] = out["sequential_s"] / out["auto_s"]
    out["speedup_vs_numpy"] = out["numpy_s"] / out["auto_s"]
    return out


def tiny_tasks_cell(job: EngineJob) -> dict[str, Any]:
    """No-op tasks/s and round trips, through distlab's adapter and the engine's own API,
    interleaved so drift on a shared machine hits both alike."""
    from distlab import probes
    from distlab.stats import percentiles

    engine_name, workers, address = job.engine, job.workers, job.address
    n, round_trips, repeats = (job.params["bench"][k] for k in ("n", "round_trips", "repeats"))

    # options: what a deployment on the test hosts asks of its driver (bench_rtt)
    eng = registry.create(engine_name, address=address, workers=workers, **job.options)
    t0 = time.perf_counter()
    eng.start()
    out: dict[str, Any] = {"engine": engine_name, "startup_s": time.perf_counter() - t0, "n": n}
    try:

        def adapter_batch():
            # map: what a user calls for many tasks (engines batch their messages there)
            return eng.map(probes.noop, range(n))

        def native_batch():
            return eng.native_noop_tasks(n)

        try:
            native_batch()
            has_native = True
        except NotImplementedError:
            has_native = False
        adapter_batch()  # warm-up
        a_s, n_s = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            got = adapter_batch()
            a_s.append(time.perf_counter() - t)
            _check_noops(engine_name, "adapter", got, n)
            if has_native:
                t = time.perf_counter()
                got = list(native_batch())
                n_s.append(time.perf_counter() - t)
                _check_noops(engine_name, "native API", got, n)
        a_rt, n_rt = [], []
        for i in range(round_trips):
            t = time.perf_counter()
            eng.submit(probes.noop, i).result()
            a_rt.append((time.perf_counter() - t) * 1e3)
            if has_native:
                t = time.perf_counter()
                eng.native_noop_tasks(1)
                n_rt.append((time.perf_counter() - t) * 1e3)
    finally:
        eng.close()
    out["adapter_tasks_per_s"] = n / statistics.median(a_s)
    out["adapter_samples_s"] = a_s
    out["adapter_rt_ms"] = percentiles(a_rt, (50, 99))
    if has_native:
        out["native_tasks_per_s"] = n / statistics.median(n_s)
        out["native_samples_s"] = n_s
        out["native_rt_ms"] = percentiles(n_rt, (50, 99))
        # > 1 means the adapter is slower than the engine's own API
        out["throughput_cost"] = out["native_tasks_per_s"] / out["adapter_tasks_per_s"]
        out["rt_p50_cost"] = out["adapter_rt_ms"]["p50"] / out["native_rt_ms"]["p50"]
    return out


def _check_noops(engine: str, path: str, got: list, n: int) -> None:
    if list(got) != list(range(n)):
        raise DistlabError(f"{engine} {path}: {n} no-op tasks gave a wrong answer")


def bench_job(
    name: str, params: dict[str, Any], address: str | None = None, options: dict | None = None
) -> EngineJob:
    """The job of one engine's bench process: ``params`` reach its cell as
    ``job.params["bench"]``; ``options`` its engine (e.g. a test-host deployment's)."""
    return EngineJob(
        engine=name,
        workloads=[],
        size="default",
        repeats=0,
        warmup=0,
        address=address,
        workers=params.get("workers"),
        options=dict(options or {}),
        params={"bench": params},
    )


def run_cells(
    kind: str, engines: list[str], params: dict[str, Any], addresses: dict[str, str], progress=print
) -> list[dict[str, Any]]:
    """Run ``<kind>_cell`` for each engine in an engine process of its own."""
    rows = []
    for name in engines:
        registry.engine_class(name)  # one-line error now if it is not installed
        job = bench_job(name, params, addresses.get(name))
        progress(f"measuring {name} ...")
        rows.append(measure(kind, job))
    return rows


def measure(kind: str, job: EngineJob, wrap: list[str] | None = None) -> dict[str, Any]:
    """``<kind>_cell`` in an engine process of its own (``wrap``: a command prefix that
    runs it on a test host)."""
    with tempfile.TemporaryDirectory(prefix="distlab-bench-") as tmp:
        ep = EngineProcess(job, Path(tmp), mode=f"bench:{kind}", wrap=wrap)
        deadline = time.monotonic() + BENCH_TIMEOUT_S
        try:
            while ep.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            timed_out = ep.proc.poll() is None
        finally:
            ep.stop()
        rows = [ev.row for ev in ep.new_events() if isinstance(ev, BenchMeasured)]
        if rows:
            return rows[-1]
        if timed_out:
            return {"engine": job.engine, "error": f"timed out after {BENCH_TIMEOUT_S:.0f} s"}
        return {"engine": job.engine, "error": ep.log_tail() or "no output"}


def save(benchmark: str, rows: list[dict[str, Any]], path: Path) -> Path:
    """Write the figures to ``path``, or into the directory ``path`` as
    ``bench-<benchmark>.json`` (where `distlab report` of that directory finds them)."""
    from distlab.results import environment

    if path.is_dir():
        path = path / f"bench-{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": benchmark, "environment": environment(), "rows": rows}
    path.write_text(json.dumps(doc, indent=1))
    return path


#: bench kind -> "module:function" an engine process runs for it (named, not imported
#: here: the benchmarks' own modules build on this one)
CELLS = {
    "granularity": "distlab.bench:granularity_cell",
    "tiny-tasks": "distlab.bench:tiny_tasks_cell",
    "streams": "distlab.bench_streams:streams_cell",
    "break-even": "distlab.bench_break_even:break_even_cell",
    "data-size": "distlab.bench_data:data_size_cell",
    "rtt": "distlab.bench_rtt:rtt_cell",
}


def cell_function(kind: str) -> Callable[[EngineJob], dict[str, Any]]:
    """The function of bench ``kind`` (a KeyError for an unknown one)."""
    module, func = CELLS[kind].split(":")
    return getattr(importlib.import_module(module), func)
