"""Benchmarks that print figures and ratios measured in one run.

``granularity``: W2 numbers at full size on each engine — the seed's per-element tasks
(on a capped prefix, extrapolated per task), batched tasks with the automatically chosen
batch size, and a sweep of batch sizes, beside the seed's sequential loop and vectorized
NumPy. Each engine is measured in its own process (python -m distlab.bench ...).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from distlab import registry
from distlab.contracts import DistlabError


def _median_time(fn, repeats: int) -> tuple[float, Any, list[float]]:
    samples, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), out, samples


def sweep_sizes(n: int, workers: int) -> list[int]:
    """Batch sizes from 1,000 elements up to one batch per worker, in factors of ~4."""
    top = math.ceil(n / workers)
    sizes, b = [], 1_000
    while b < top:
        sizes.append(b)
        b *= 4
    return [*sizes, top]


def granularity_cell(
    engine_name: str, n: int, cap: int, repeats: int, workers: int | None, address: str | None
) -> dict[str, Any]:
    """Measure one engine (runs inside its own process).

    Every figure that enters a ratio (the loop, NumPy, the auto batch, each sweep size)
    is measured in the same rounds, one after another, with the order rotated per round:
    drift on a shared machine then moves them together instead of deciding the ratio.
    """
    import numpy as np

    from distlab.workloads.numbers import Numbers

    wl = Numbers("default", n=n, per_element_cap=cap)
    out: dict[str, Any] = {"engine": engine_name, "n": n, "rounds": repeats}
    wl._golden = wl.reference()
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
            def go():
                res = wl._run_batched(eng, batch)
                ok, detail = wl.verify(res)
                if not ok:
                    raise DistlabError(f"{engine_name} batched({batch}) wrong: {detail}")
                return res

            return go

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
                last[name] = contenders[name]()
                samples[name].append(time.perf_counter() - t)
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
        per, per_out, _ = _median_time(lambda: wl.run(eng, "per_element"), 1)
        ok, detail = wl.verify(per_out)
        if not ok:
            raise DistlabError(f"{engine_name} per-element wrong: {detail}")
        out["per_element_cap"] = per_out.metrics["elements"]
        out["per_element_task_ms"] = per / per_out.metrics["elements"] * 1e3
        out["per_element_extrapolated_s"] = per / per_out.metrics["elements"] * n
    finally:
        eng.close()
    out["batched_vs_per_element"] = out["per_element_extrapolated_s"] / out["auto_s"]
    out["auto_vs_best"] = out["auto_s"] / out["best_s"]
    out["speedup_vs_sequential"] = out["sequential_s"] / out["auto_s"]
    out["speedup_vs_numpy"] = out["numpy_s"] / out["auto_s"]
    return out


def tiny_tasks_cell(
    engine_name: str,
    n: int,
    round_trips: int,
    repeats: int,
    workers: int | None,
    address: str | None,
) -> dict[str, Any]:
    """No-op tasks/s and round trips, through distlab's adapter and the engine's own API,
    interleaved so drift on a shared machine hits both alike."""
    from distlab import probes
    from distlab.stats import percentiles

    eng = registry.create(engine_name, address=address, workers=workers)
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
            assert adapter_batch() == list(range(n))
            a_s.append(time.perf_counter() - t)
            if has_native:
                t = time.perf_counter()
                assert list(native_batch()) == list(range(n))
                n_s.append(time.perf_counter() - t)
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


def run_cells(
    kind: str, engines: list[str], params: dict[str, Any], addresses: dict[str, str], progress=print
) -> list[dict[str, Any]]:
    """Run ``<kind>_cell`` for each engine in a process of its own."""
    rows = []
    for name in engines:
        registry.engine_class(name)  # one-line error now if it is not installed
        args = json.dumps({"engine_name": name, "address": addresses.get(name), **params})
        progress(f"measuring {name} ...")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "distlab.bench", f"{kind}-cell", args],
                capture_output=True,
                text=True,
                timeout=1800,
            )
        except subprocess.TimeoutExpired:
            rows.append({"engine": name, "error": "timed out after 1800 s"})
            continue
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append({"engine": name, "error": tail})
            continue
        rows.append(json.loads(lines[-1]))
    return rows


def save(benchmark: str, rows: list[dict[str, Any]], path: Path) -> None:
    from distlab.results import environment

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": benchmark, "environment": environment(), "rows": rows}
    path.write_text(json.dumps(doc, indent=1))


_CELLS = {"granularity-cell": granularity_cell, "tiny-tasks-cell": tiny_tasks_cell}

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in _CELLS:
        print(json.dumps(_CELLS[sys.argv[1]](**json.loads(sys.argv[2]))))
    else:
        sys.exit(f"usage: python -m distlab.bench {{{'|'.join(_CELLS)}}} JSON")
