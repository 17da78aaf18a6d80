"""The "choose by numbers" figures, read from a results document: the smallest efficient
task and the largest practical payload (from the `distlab bench break-even` and
`data-size` files beside the results, attached as ``doc.benches``), scaling with
workers (``doc.scaling`` of `distlab run --workers 1,2,...`), and the user's own
function workloads read against the break-even curve."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from distlab.contracts import DistlabError
from distlab.report.figures import Doc, elements, is_race, work_share
from distlab.results import load_bench

#: bench files `distlab report` picks up beside a results file
BENCH_FILES = {
    "break-even": "bench-break-even.json",
    "data-size": "bench-data-size.json",
    "rtt": "bench-rtt.json",
    "tpch": "bench-tpch.json",
}


def attach_benches(doc: Doc, directory: Path) -> Doc:
    """``doc`` with the rows of any bench file found in ``directory`` (not saved back)."""
    benches = {}
    for kind, name in BENCH_FILES.items():
        path = directory / name
        if path.is_file():
            try:
                benches[kind] = load_bench(path)
            except DistlabError:
                continue
    return dataclasses.replace(doc, benches=benches) if benches else doc


def bench_rows(doc: Doc, kind: str) -> list[dict[str, Any]]:
    bench = doc.benches.get(kind)
    return bench.rows if bench else []


# -- scaling -----------------------------------------------------------------------------
#: what a scaling row's times are (``basis``), as the table says it
SAME_WORK = "median time (the same work at every count)"
PER_ELEMENT = "time per element (each count ran its own number of elements)"
SCALED = "time scaled to the whole work (each count ran its own share of it)"


def serial_fraction(points: list[tuple[int, float]]) -> float | None:
    """Amdahl's serial fraction f fitted to (workers, speed-up against one worker) points,
    S(n) = 1 / (f + (1 - f) / n), least squares over f in [0, 1]; None from fewer than
    two counts beyond one worker (through one point the fit is exact and says nothing)."""
    usable = [(n, s) for n, s in points if n > 1 and s > 0]
    if len({n for n, _ in usable}) < 2:
        return None

    def loss(f: float) -> float:
        return sum((s - 1 / (f + (1 - f) / n)) ** 2 for n, s in usable)

    return min((k / 1000 for k in range(1001)), key=loss)


def _equal_work(by_n: dict[int, dict]) -> tuple[str, dict[int, float]]:
    """How a row's cells compare for equal work, and the divisor of each count's times.
    One task per element fills a time budget, so more workers run more elements: their
    times are compared per element (or per share of the whole work) instead."""
    shares = {n: work_share(c) for n, c in by_n.items()}
    if all(share == 1 for share in shares.values()):
        return SAME_WORK, {n: 1.0 for n in by_n}
    counts = {n: elements(c) for n, c in by_n.items()}
    if all(counts.values()):
        return PER_ELEMENT, {n: float(k) for n, k in counts.items()}
    return SCALED, shares


def scaling_rows(doc: Doc) -> list[dict[str, Any]]:
    """Per engine x workload/variant: the time of equal work per worker count (``basis``
    says which time), speed-up and efficiency against the smallest count measured
    (``baseline_workers``: one worker only when one was measured), each count flagged
    when it exceeds the machine's CPUs, and Amdahl's serial fraction when one worker and
    two or more counts beyond it, within the CPUs, were measured (else ``fit_note``)."""
    cpus = doc.environment.cpus
    groups: dict[tuple[str, str, str], dict[int, dict]] = {}
    for c in doc.scaling.cells if doc.scaling else []:
        if c.status != "ok" or not c.verified or not c.workers:
            continue
        if not is_race(c) or not (c.wall or {}).get("median"):
            continue  # no work to compare (a paced loop, a cached re-run)
        key = (c.engine, c.workload, c.variant or "-")
        groups.setdefault(key, {})[c.workers] = c
    rows = []
    for (engine, workload, variant), by_n in groups.items():
        basis, per = _equal_work(by_n)
        counts = sorted(by_n)
        base_n = counts[0]
        base = by_n[base_n].wall["median"] / per[base_n]
        points = []
        for n in counts:
            wall = by_n[n].wall
            time = {k: wall.get(k, wall["median"]) / per[n] for k in ("median", "min", "max")}
            speedup = base / time["median"]
            points.append(
                {
                    "workers": n,
                    "wall": wall,
                    "time": time,
                    "work_share": work_share(by_n[n]),
                    "elements": elements(by_n[n]),
                    "speedup": speedup,
                    # from the slowest and fastest repetitions
                    "speedup_range": [base / time["max"], base / time["min"]],
                    "efficiency": speedup * base_n / n,
                    "above_cpus": bool(cpus and n > cpus),
                }
            )
        fit, note = _amdahl(points, base_n, cpus)
        rows.append(
            {
                "engine": engine,
                "workload": workload,
                "variant": variant,
                "basis": basis,
                "baseline_workers": base_n,
                "cpus": cpus,
                "points": points,
                "serial_fraction": fit,
                "fit_note": note,
            }
        )
    return rows


def _amdahl(points: list[dict], base_n: int, cpus: int | None) -> tuple[float | None, str]:
    """The serial fraction and how it was fitted, or None and why not. Counts above the
    CPUs are left out: past them the workers share cores, which no serial fraction models."""
    if base_n != 1:
        return None, f"no fit: one worker was not measured (speed-up is against {base_n})"
    within = [(p["workers"], p["speedup"]) for p in points if p["workers"] > 1]
    within = [(n, s) for n, s in within if not cpus or n <= cpus]
    fit = serial_fraction(within)
    if fit is None:
        where = f" within the {cpus} CPUs" if cpus else ""
        return None, f"no fit: it needs two or more counts beyond one worker{where}"
    return fit, f"fitted on {', '.join(str(n) for n, _ in within)} workers against one"


def baseline_text(row: dict[str, Any]) -> str:
    """'against one worker', or against the smallest count measured when it was not one."""
    n = row["baseline_workers"]
    return "against one worker" if n == 1 else f"against {n} workers (one was not measured)"


# -- the user's own functions ------------------------------------------------------------
def function_rows(doc: Doc) -> list[dict[str, Any]]:
    """Per user function: its per-item time (the sequential reference over its items)
    and, per engine, the efficiency of one task per item (speed-up / workers), set
    beside the break-even duration measured for that engine."""
    breaks = {r["engine"]: r for r in bench_rows(doc, "break-even") if "error" not in r}
    out = []
    for workload, refs in doc.references.items():
        cells = [c for c in doc.cells if c.workload == workload]
        items = next(((c.metrics or {}).get("items") for c in cells), None)
        seq_ref = refs.runs.get("sequential")
        seq = ((seq_ref and seq_ref.wall) or {}).get("median")
        if not items or not seq or not any(c.variant == "per_item" for c in cells):
            continue
        item_ms = seq / items * 1e3
        engines = []
        for c in cells:
            if c.variant != "per_item" or c.status != "ok":
                continue
            workers = c.workers or 1
            eff = c.speedup / workers if c.speedup else None
            be = breaks.get(c.engine, {}).get("break_even_ms")
            engines.append({"engine": c.engine, "efficiency": eff, "break_even_ms": be})
        out.append({"workload": workload, "item_ms": item_ms, "items": items, "engines": engines})
    return out


def has_choose(doc: Doc) -> bool:
    return bool(
        bench_rows(doc, "break-even")
        or bench_rows(doc, "data-size")
        or scaling_rows(doc)
        or function_rows(doc)
        or bench_rows(doc, "tpch")
    )


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
