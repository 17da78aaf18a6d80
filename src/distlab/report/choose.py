"""The "choose by numbers" figures, read from a results document: the smallest efficient
task and the largest practical payload (from the `distlab bench break-even` and
`data-size` files beside the results, attached as ``doc["benches"]``), scaling with
workers (``doc["scaling"]`` of `distlab run --workers 1,2,...`), and the user's own
function workloads read against the break-even curve."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from distlab.report.figures import Doc

#: bench files `distlab report` picks up beside a results file
BENCH_FILES = {
    "break-even": "bench-break-even.json",
    "data-size": "bench-data-size.json",
    "rtt": "bench-rtt.json",
}


def attach_benches(doc: Doc, directory: Path) -> Doc:
    """``doc`` with the rows of any bench file found in ``directory`` (not saved back)."""
    benches = {}
    for kind, name in BENCH_FILES.items():
        path = directory / name
        if path.is_file():
            try:
                benches[kind] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
    return {**doc, "benches": benches} if benches else doc


def bench_rows(doc: Doc, kind: str) -> list[dict[str, Any]]:
    return ((doc.get("benches") or {}).get(kind) or {}).get("rows") or []


# -- scaling -----------------------------------------------------------------------------
def serial_fraction(points: list[tuple[int, float]]) -> float | None:
    """Amdahl's serial fraction f fitted to (workers, speed-up) points, speed-up
    S(n) = 1 / (f + (1 - f) / n), least squares over f in [0, 1]; None with no point
    beyond one worker."""
    usable = [(n, s) for n, s in points if n > 1 and s > 0]
    if not usable:
        return None

    def loss(f: float) -> float:
        return sum((s - 1 / (f + (1 - f) / n)) ** 2 for n, s in usable)

    return min((k / 1000 for k in range(1001)), key=loss)


def scaling_rows(doc: Doc) -> list[dict[str, Any]]:
    """Per engine x workload/variant: median time per worker count, speed-up against
    the engine's own smallest count, efficiency, the fitted serial fraction."""
    scaling = doc.get("scaling") or {}
    groups: dict[tuple[str, str, str], dict[int, dict]] = {}
    for c in scaling.get("cells") or []:
        if c.get("status") != "ok" or not c.get("verified") or not c.get("workers"):
            continue
        key = (c["engine"], c["workload"], c.get("variant") or "-")
        groups.setdefault(key, {})[c["workers"]] = c
    rows = []
    for (engine, workload, variant), by_n in groups.items():
        counts = sorted(by_n)
        base_n = counts[0]
        base = by_n[base_n]["wall"]["median"]
        points = []
        for n in counts:
            wall = by_n[n]["wall"]
            speedup = base / wall["median"] * base_n  # against one worker's pace
            points.append(
                {
                    "workers": n,
                    "wall": wall,
                    "speedup": speedup,
                    # from the slowest and fastest repetitions
                    "speedup_range": [base / wall["max"] * base_n, base / wall["min"] * base_n],
                    "efficiency": speedup / n,
                }
            )
        fit = (
            serial_fraction([(p["workers"], p["speedup"]) for p in points]) if base_n == 1 else None
        )
        rows.append(
            {
                "engine": engine,
                "workload": workload,
                "variant": variant,
                "points": points,
                "serial_fraction": fit,
            }
        )
    return rows


# -- the user's own functions ------------------------------------------------------------
def function_rows(doc: Doc) -> list[dict[str, Any]]:
    """Per user function: its per-item time (the sequential reference over its items)
    and, per engine, the efficiency of one task per item (speed-up / workers), set
    beside the break-even duration measured for that engine."""
    breaks = {r["engine"]: r for r in bench_rows(doc, "break-even") if "error" not in r}
    out = []
    for workload, ref in (doc.get("references") or {}).items():
        cells = [c for c in doc.get("cells") or [] if c.get("workload") == workload]
        items = next(((c.get("metrics") or {}).get("items") for c in cells), None)
        seq = ((ref.get("sequential") or {}).get("wall") or {}).get("median")
        if not items or not seq or not any(c.get("variant") == "per_item" for c in cells):
            continue
        item_ms = seq / items * 1e3
        engines = []
        for c in cells:
            if c.get("variant") != "per_item" or c.get("status") != "ok":
                continue
            workers = c.get("workers") or 1
            eff = c["speedup"] / workers if c.get("speedup") else None
            be = breaks.get(c["engine"], {}).get("break_even_ms")
            engines.append({"engine": c["engine"], "efficiency": eff, "break_even_ms": be})
        out.append({"workload": workload, "item_ms": item_ms, "items": items, "engines": engines})
    return out


def has_choose(doc: Doc) -> bool:
    return bool(
        bench_rows(doc, "break-even")
        or bench_rows(doc, "data-size")
        or scaling_rows(doc)
        or function_rows(doc)
    )


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
