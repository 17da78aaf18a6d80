"""Stream sweeps read out of a results document: each engine's search points, the raw
pipe's (the stream workload's ``raw pipe`` reference, the ceiling of every stream figure)
and an engine's figures as a share of that ceiling."""

from __future__ import annotations

from typing import Any

from distlab.report.figures import Cell, Doc, max_sustained_rate

#: the stream workload's ceiling reference (distlab.workloads.stream.RAW_PIPE)
RAW_PIPE = "raw pipe"


def sweep_points(cell_or_metrics: Cell | dict[str, Any]) -> list[dict[str, Any]]:
    """The search's points (of a cell, or of a reference's metrics) sorted by offered
    rate (rows without a rate left out)."""
    metrics = cell_or_metrics.metrics if isinstance(cell_or_metrics, Cell) else cell_or_metrics
    rows = metrics.get("sweep") or metrics.get("points") or []
    return sorted(
        (r for r in rows if isinstance(r, dict) and isinstance(r.get("offered_rate"), int | float)),
        key=lambda r: r["offered_rate"],
    )


def raw_pipe(doc: Doc) -> dict[str, Any] | None:
    """The raw pipe's search (its metrics), when the run measured it."""
    refs = doc.references.get("stream")
    ref = refs.runs.get(RAW_PIPE) if refs else None
    return ref.metrics if ref is not None and ref.metrics and ref.verified else None


def ceiling_rate(doc: Doc) -> float | None:
    """The raw pipe's highest sustained rate (events/s)."""
    pipe = raw_pipe(doc)
    rate = (pipe or {}).get("max_sustained_rate")
    return rate if isinstance(rate, int | float) else None


def share_of_ceiling(cell: Cell, doc: Doc) -> float | None:
    """A stream sweep's highest sustained rate as a share of the raw pipe's."""
    ceiling, rate = ceiling_rate(doc), max_sustained_rate(cell)
    return rate / ceiling if ceiling and rate else None


def sweep_cells(cells: list[Cell]) -> list[Cell]:
    """The stream cells that searched a rate (variant ``sweep``)."""
    return [c for c in cells if c.workload == "stream" and sweep_points(c)]
