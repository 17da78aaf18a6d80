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
from distlab.engine import DistlabError


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
    """Measure one engine (runs inside its own process)."""
    import numpy as np

    from distlab.workloads.numbers import Numbers

    wl = Numbers("default", n=n, per_element_cap=cap)
    out: dict[str, Any] = {"engine": engine_name, "n": n}
    seq, golden, _ = _median_time(wl.reference, repeats)
    wl._golden = golden
    array = np.asarray(wl.data)
    out["sequential_s"] = seq
    out["numpy_s"] = _median_time(lambda: np.log(np.sqrt(np.abs(array))), repeats)[0]
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

        def timed(batch):
            def go():
                res = wl._run_batched(eng, batch)
                ok, detail = wl.verify(res)
                if not ok:
                    raise DistlabError(f"{engine_name} batched({batch}) wrong: {detail}")
                return res

            return _median_time(go, repeats)

        out["auto_s"], auto_out, out["auto_samples"] = timed(out["auto_batch_size"])
        out["breakdown_s"] = auto_out.metrics["breakdown_s"]
        out["sweep"] = []
        for b in sweep_sizes(n, w):
            s, _, samples = timed(b)
            out["sweep"].append({"batch_size": b, "wall_s": s, "samples": samples})
        best = min(out["sweep"], key=lambda r: r["wall_s"])
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


def granularity(
    engines: list[str],
    n: int,
    cap: int,
    repeats: int,
    workers: int | None,
    addresses: dict[str, str],
    progress=print,
) -> list[dict[str, Any]]:
    rows = []
    for name in engines:
        registry.engine_class(name)  # one-line error now if it is not installed
        args = json.dumps(
            {
                "engine_name": name,
                "n": n,
                "cap": cap,
                "repeats": repeats,
                "workers": workers,
                "address": addresses.get(name),
            }
        )
        progress(f"measuring {name} ...")
        proc = subprocess.run(
            [sys.executable, "-m", "distlab.bench", "granularity-cell", args],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append({"engine": name, "error": tail})
            continue
        rows.append(json.loads(lines[-1]))
    return rows


def save(rows: list[dict[str, Any]], path: Path) -> None:
    from distlab.results import environment

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"benchmark": "granularity", "environment": environment(), "rows": rows}, indent=1
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "granularity-cell":
        print(json.dumps(granularity_cell(**json.loads(sys.argv[2]))))
    else:
        sys.exit("usage: python -m distlab.bench granularity-cell JSON")
