"""What every plot shares: matplotlib without a display, one colour per engine, and the
order of the pieces of work on an axis."""

from __future__ import annotations

from typing import Any

from distlab.report.figures import Cell, Doc

#: matplotlib's default cycle, fixed here so an engine keeps its colour across plots
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend; ImportError when matplotlib is missing."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit: files only
    import matplotlib.pyplot as plt

    return plt


def engine_colours(doc: Doc) -> dict[str, str]:
    """One colour per engine, in the order the document lists them (references excluded)."""
    names = list(doc.engines)
    for c in doc.cells:
        if c.engine not in names:
            names.append(c.engine)
    names = [n for n in names if n != "reference"]
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def work_order(cells: list[Cell]) -> list[tuple[str, str]]:
    """The (workload, variant) pairs of the cells, each once, in the order first seen."""
    seen = []
    for c in cells:
        key = (c.workload, c.variant or "-")
        if key not in seen:
            seen.append(key)
    return seen
