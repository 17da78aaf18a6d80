"""The two task benchmarks: ``granularity`` (W2 numbers at full size on each engine: the
seed's per-element tasks on a capped prefix, extrapolated per task, batched tasks with the
automatically chosen batch size, and a sweep of batch sizes, beside the seed's sequential
loop and vectorized NumPy) and ``tiny-tasks`` (no-op tasks/s and round trips through
distlab's adapter and through the engine's own API, side by side).

Each runs inside an engine process of its own (distlab.bench.process).
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import DistlabError
from distlab.contracts.measured import NativeNoopTasks


def sweep_sizes(n: int, workers: int) -> list[int]:
    """Batch sizes from 1,000 elements up to one batch per worker, in factors of ~4."""
    top = math.ceil(n / workers)
    sizes, b = [], 1_000
    while b < top:
        sizes.append(b)
        b *= 4
    return [*sizes, top]


def granularity_cell(job: BenchJob) -> dict[str, Any]:
    """Measure one engine (runs inside its own process).

    Every figure that enters a ratio (the loop, NumPy, the auto batch, each sweep size)
    is measured in the same rounds, one after another, with the order rotated per round:
    drift on a shared machine then moves them together instead of deciding the ratio.
    """
    import numpy as np

    from distlab.workloads.numbers import Numbers

    engine_name, workers, address = job.engine, job.workers, job.address
    n, cap, repeats = (job.params[k] for k in ("n", "cap", "repeats"))

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


def tiny_tasks_cell(job: BenchJob) -> dict[str, Any]:
    """No-op tasks/s and round trips, through distlab's adapter and the engine's own API,
    interleaved so drift on a shared machine hits both alike."""
    from distlab import probes
    from distlab.stats import percentiles

    engine_name, workers, address = job.engine, job.workers, job.address
    n, round_trips, repeats = (job.params[k] for k in ("n", "round_trips", "repeats"))

    # options: what a deployment on the test hosts asks of its driver (distlab.bench.rtt)
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

        has_native = isinstance(eng, NativeNoopTasks)
        if has_native:
            native_batch()  # warm-up
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
