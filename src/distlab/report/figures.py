"""Figures read out of a results document, and how the reports write them.

This is the one place where the report views (terminal, HTML, plots, compare,
recommendations) read a cell's workload-specific ``metrics`` by key: every other module
asks a typed function here. A key a workload did not record reads as None, an empty
list or an empty dict, never as an error, so files from older or newer distlab versions
still render.

A cell is one (engine, workload, variant) record of ``doc.cells`` (distlab.results
``CellRecord``); its time is ``cell.wall`` (median, min, max, samples of the measured
repetitions). A cell that ran only part of the work (one task per element is capped)
records the share it ran as ``work_fraction``: times here are scaled to the full workload so such cells compare
fairly; the figure that ranks a cell is ``full_median``.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, TypedDict

from distlab.results import CellRecord, Results

Cell = CellRecord
Doc = Results


class StepEvent(TypedDict, total=False):
    """One state change of a workflow step (microscopy's ``metrics["timeline"]``)."""

    step: str
    state: str  # done, failed, retry, cached
    start: float  # seconds from the workflow's start
    end: float
    worker: str


def _metrics(cell: Cell) -> dict[str, Any]:
    return cell.metrics or {}


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) else None


# ---- how a figure is written ------------------------------------------------------------


def fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_x(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x"


def fmt_full(cell: Cell, seconds: float | None) -> str:
    """A full-workload time; '~' and a note when scaled up from a capped run."""
    if work_share(cell) < 1:
        return f"~{fmt_s(seconds)} extrapolated to full size"
    return fmt_s(seconds)


def label(cell: Cell) -> str:
    """'workload' or 'workload (variant)': how every view names a piece of work."""
    return work_label(cell.workload, cell.variant)


def work_label(workload: str, variant: str | None) -> str:
    """:func:`label` of a piece of work given by name."""
    variant = variant or "-"
    return workload + ("" if variant in ("-", "default") else f" ({variant})")


# ---- which cells count, and how they group -------------------------------------------------


def measured(doc: Doc) -> list[Cell]:
    """Cells with a verified answer and a time: the only ones a recommendation may use."""
    return [
        c for c in doc.cells if c.status == "ok" and c.verified and full_median(c) is not None
    ]


def by_work(cells: list[Cell]) -> dict[tuple[str, str], list[Cell]]:
    """Cells by (workload, variant): the engines that did the same piece of work."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.workload, c.variant or "-"), []).append(c)
    return groups


def is_race(cell: Cell) -> bool:
    """Whether the cell's time is a contest: a cell whose workload claims no work for it
    (work_fraction None: a cached re-run, a paced request loop, a refused request) is
    reported, never ranked."""
    return bool(cell.work_fraction)


def shape_of(workload: str) -> str | None:
    try:
        from distlab.workloads import workload_class

        return workload_class(workload).shape
    except Exception:  # a workload this distlab does not know (an older or newer file)
        return None


# ---- time, scaled to the full workload ---------------------------------------------------


def work_share(cell: Cell) -> float:
    """The fraction of the full workload a cell ran (per-element runs are capped)."""
    share = cell.work_fraction or 1.0
    return share if share > 0 else 1.0


def wall_samples(cell: Cell) -> list[float]:
    """Measured repetitions for the full workload, so that capped runs compare fairly:
    each capped repetition's own extrapolation (its fixed cost once, its per-element cost
    for every element) where the run recorded them, else the time over the work share."""
    recorded = _metrics(cell).get("full_samples_s")
    if recorded:
        return [x for x in recorded if isinstance(x, int | float)]
    wall = cell.wall or {}
    xs = [x for x in wall.get("samples") or [] if isinstance(x, int | float)]
    if not xs and cell.wall_s is not None:
        xs = [cell.wall_s]
    return [x / work_share(cell) for x in xs]


def full_median(cell: Cell) -> float | None:
    """The figure that ranks a cell: its median time for the full workload."""
    if _metrics(cell).get("full_samples_s"):
        return statistics.median(wall_samples(cell))
    wall = cell.wall or {}
    med = wall.get("median", cell.wall_s)
    return None if med is None else med / work_share(cell)


def full_range(cell: Cell) -> tuple[float, float] | None:
    wall = cell.wall or {}
    if _metrics(cell).get("full_samples_s") or wall.get("min") is None or wall.get("max") is None:
        xs = wall_samples(cell)
        return (min(xs), max(xs)) if xs else None
    share = work_share(cell)
    return wall["min"] / share, wall["max"] / share


def extrapolated_from(cell: Cell) -> tuple[int, int] | None:
    """(elements run, elements in the workload) for a time extrapolated from part of the
    work; None for a cell that ran all of it."""
    ran, share = elements(cell), cell.work_fraction
    if not ran or not share or share >= 1 or not is_capped(cell):
        return None
    return int(ran), round(ran / share)


def reference_median(doc: Doc, workload: str, name: str) -> float | None:
    """Median time of a verified single-process reference ('sequential', 'numpy')."""
    refs = doc.references.get(workload)
    ref = refs.runs.get(name) if refs else None
    if ref is None or ref.verified is False:
        return None
    return (ref.wall or {}).get("median")


# ---- granularity: batches, and one task per element (W2 numbers) ------------------------


def batch_size(cell: Cell) -> int | None:
    """Elements per task of a batched run; None when the cell did not batch."""
    return _metrics(cell).get("batch_size") or None


def batch_size_chosen(cell: Cell) -> str | None:
    """How the batch size was set: 'auto' (from measured costs) or 'given'."""
    return _metrics(cell).get("batch_size_chosen")


def elements(cell: Cell) -> int | None:
    """Elements of work the run processed, when the workload counts them."""
    return _metrics(cell).get("elements")


def elements_per_task(cell: Cell) -> float | None:
    """A batch size, or 1 for one task per element; None when the cell says neither."""
    size = batch_size(cell)
    if size:
        return float(size)
    count = elements(cell)
    if cell.variant == "per_element" or (count and cell.n_tasks == count):
        return 1.0
    return None


def is_capped(cell: Cell) -> bool:
    """Whether a one-task-per-element run stopped at its cap (its full time extrapolated)."""
    return bool(_metrics(cell).get("capped"))


def extrapolated_full_s(cell: Cell) -> float | None:
    """A capped run's time for the whole data: the median of its repetitions' own
    extrapolations (the one method every report uses: :func:`full_median`)."""
    if not _metrics(cell).get("extrapolated_full_s"):
        return None
    return full_median(cell)


def per_task_s(cell: Cell) -> float | None:
    """Wall time per task of a one-task-per-element run."""
    return _metrics(cell).get("per_task_s")


def has_sweep(cell: Cell) -> bool:
    """Whether the cell recorded a sweep (a list of runs at different settings)."""
    sweep = _metrics(cell).get("sweep")
    return isinstance(sweep, list) and bool(sweep)


def batch_sweep(cell: Cell) -> list[tuple[float, float]]:
    """(batch size, wall seconds) of every batch size a sweep tried; rows without both
    figures (a sweep over something else, e.g. stream's offered rates) are left out."""
    if not has_sweep(cell):
        return []
    return [
        (float(row["batch_size"]), row["wall_s"])
        for row in _metrics(cell)["sweep"]
        if isinstance(row, dict) and row.get("batch_size") and row.get("wall_s")
    ]


def time_breakdown_s(cell: Cell) -> dict[str, float | None]:
    """Seconds of one repetition by part (compute, serialization, scheduling_and_other)."""
    parts = _metrics(cell).get("breakdown_s")
    return parts if isinstance(parts, dict) else {}


# ---- latency and throughput (jobs, stream) ------------------------------------------------


def latency_ms(cell: Cell) -> dict[str, float | None]:
    """Latency percentiles in ms by name ('p50', 'p99', 'p99.9'); None where nothing was
    measured; {} when the workload measures no latency."""
    lat = _metrics(cell).get("latency_ms")
    if not isinstance(lat, dict):
        return {}
    return {k: v for k, v in lat.items() if v is None or isinstance(v, int | float)}


def latency_samples_ms(cell: Cell) -> list[float] | None:
    """Every recorded latency in ms (for a distribution plot); None when none were kept."""
    metrics = _metrics(cell)
    for key, value in metrics.items():
        if "latency" in key and "sample" in key and isinstance(value, list) and value:
            return [float(x) for x in value if isinstance(x, int | float)]
    lat = metrics.get("latency_ms")
    if isinstance(lat, dict) and isinstance(lat.get("samples"), list) and lat["samples"]:
        return [float(x) for x in lat["samples"] if isinstance(x, int | float)]
    return None


def throughput_per_s(cell: Cell) -> float | None:
    """Results per second, for workloads that report a throughput figure."""
    return _number(_metrics(cell).get("throughput"))


def events_per_s(cell: Cell) -> float | None:
    """Events per second a stream achieved."""
    return _metrics(cell).get("throughput_eps")


def max_sustained_rate(cell: Cell) -> float | None:
    """A stream sweep's highest sustained offered rate (events/s); None: none sustained."""
    return _number(_metrics(cell).get("max_sustained_rate"))


class Headline(TypedDict):
    """The figure a cell is ranked and compared by, and which way is better."""

    name: str
    value: float | None
    higher_is_better: bool


def headline(cell: Cell) -> Headline:
    """What a cell achieved, in the figure that matters for its shape of work: a stream
    sweep by its highest sustained rate, a fixed-rate stream by its p99 latency at the
    offered rate, everything else by its median time."""
    if shape_of(cell.workload) == "streams":
        metrics = _metrics(cell)
        if "max_sustained_rate" in metrics:
            return {
                "name": "highest sustained rate (events/s)",
                "value": max_sustained_rate(cell),
                "higher_is_better": True,
            }
        return {
            "name": "p99 latency at the offered rate (ms)",
            "value": _number(latency_ms(cell).get("p99")),
            "higher_is_better": False,
        }
    return {"name": "median time (s)", "value": full_median(cell), "higher_is_better": False}


# ---- workflows and queues (microscopy, gpu_queue) ----------------------------------------


def critical_path_s(cell: Cell) -> float | None:
    """Longest chain of dependent workflow steps, in seconds."""
    return _metrics(cell).get("critical_path_s")


def sum_of_steps_s(cell: Cell) -> float | None:
    """Every workflow step's time added up (more than the critical path when they overlap)."""
    return _metrics(cell).get("sum_of_steps_s")


def retries(cell: Cell) -> int:
    """Workflow steps re-run after a failure."""
    return _metrics(cell).get("retries", 0)


def step_timeline(cell: Cell) -> list[StepEvent]:
    """Every workflow step's state changes; [] when the workload is not a workflow."""
    events = _metrics(cell).get("timeline")
    return events if isinstance(events, list) else []


def measured_and_ideal_s(cell: Cell) -> tuple[float, float] | None:
    """A queue's measured time and its ideal ceil(N/R)*d, when the workload has both."""
    metrics = _metrics(cell)
    if metrics.get("measured_s") is None or metrics.get("ideal_s") is None:
        return None
    return metrics["measured_s"], metrics["ideal_s"]


# ---- faults (--kill-worker, --kill-broker): the faulted repetition, reported apart ---------
