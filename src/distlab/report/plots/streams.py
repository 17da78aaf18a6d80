"""Streams: throughput and p99 latency against the offered rate for every engine's
search, with the raw pipe (the same producer, broker and reader with nothing between)
as the ceiling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import Doc, measured
from distlab.report.plots.canvas import engine_colours, pyplot
from distlab.report.streams import raw_pipe, sweep_cells, sweep_points

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CEILING_COLOUR = "#000000"


def _series(points: list[dict]) -> tuple[list[float], list[float], list[float | None]]:
    offered = [p["offered_rate"] for p in points]
    achieved = [p.get("throughput_eps") or 0.0 for p in points]
    p99 = [(p.get("latency_ms") or {}).get("p99") for p in points]
    return offered, achieved, p99


def streams_plot(doc: Doc) -> Figure | None:
    cells = sweep_cells(measured(doc))
    pipe = raw_pipe(doc)
    if not cells:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(10, 4))
    rows = [(c.engine, sweep_points(c), colours.get(c.engine), "-") for c in cells]
    if pipe:
        rows.insert(0, ("raw pipe (ceiling)", sweep_points(pipe), CEILING_COLOUR, "--"))
    top = 0.0
    for name, points, colour, style in rows:
        offered, achieved, p99 = _series(points)
        sustained = [p.get("sustained") for p in points]
        rate_ax.plot(offered, achieved, style, marker="o", color=colour, label=name)
        # a hollow marker: the point was not sustained (lost, behind, or over the p99 bound)
        for x, y, ok in zip(offered, achieved, sustained, strict=True):
            if not ok:
                rate_ax.plot([x], [y], "o", mfc="white", color=colour)
        kept = [(x, y) for x, y in zip(offered, p99, strict=True) if y is not None]
        if kept:
            p99_ax.plot(*zip(*kept, strict=True), style, marker="o", color=colour, label=name)
        top = max(top, *offered)
    rate_ax.plot([0, top], [0, top], ":", color="#999999", label="offered = achieved")
    for ax in (rate_ax, p99_ax):
        ax.set_xscale("log")
        ax.set_xlabel("offered rate (events/s)")
    rate_ax.set_yscale("log")
    rate_ax.set_ylabel("achieved (events/s)")
    rate_ax.set_title("Throughput against offered rate")
    p99_ax.set_yscale("log")
    p99_ax.set_ylabel("p99 latency (ms)")
    p99_ax.set_title("p99 latency against offered rate")
    rate_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
