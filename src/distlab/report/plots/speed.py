"""How fast: the cost of task
granularity (per-task overhead, time per element, batch-size sweeps), where the time goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import (
    Doc,
    batch_size,
    batch_sweep,
    elements,
    elements_per_task,
    has_sweep,
    label,
    measured,
    time_breakdown_s,
)
from distlab.report.plots.canvas import engine_colours, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def overhead_plot(doc: Doc) -> Figure | None:
    cells = [c for c in measured(doc) if elements_per_task(c) is not None]
    sweeps = [c for c in measured(doc) if has_sweep(c)]
    with_overhead = [c for c in cells if c.per_task_overhead_ms is not None]
    if not with_overhead and not sweeps:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    left, right = axes
    for engine in colours:
        mine = sorted(
            (c for c in with_overhead if c.engine == engine and c.per_task_overhead_ms > 0),
            key=elements_per_task,
        )
        if mine:
            left.plot(
                [elements_per_task(c) for c in mine],
                [c.per_task_overhead_ms for c in mine],
                marker="o",
                color=colours[engine],
                label=engine,
            )
        # time per element of work, from the cells and from any batch-size sweep
        points = {}
        for c in cells:
            if c.engine == engine:
                count = elements(c) or (batch_size(c) or 1) * (c.n_tasks or 1)
                points[elements_per_task(c)] = (c.wall_s or 0) / max(1, count)
        for c in sweeps:
            if c.engine == engine:
                total = elements(c) or (batch_size(c) or 0) * (c.n_tasks or 0)
                for size, wall_s in batch_sweep(c):
                    if total:
                        points[size] = wall_s / total
        if points:
            xs = sorted(points)
            right.plot(
                xs,
                [points[x] * 1e6 for x in xs],
                marker="s",
                color=colours[engine],
                label=engine,
            )
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("elements per task (1 = one task per element)")
        if ax.has_data():
            ax.legend(fontsize=8)
    left.set_ylabel("overhead per task (ms)")
    left.set_title("Per-task overhead against granularity")
    right.set_ylabel("wall time per element (µs)")
    right.set_title("Time per element against granularity")
    fig.tight_layout()
    return fig


def breakdown_plot(doc: Doc) -> Figure | None:
    cells = [c for c in measured(doc) if time_breakdown_s(c)]
    if not cells:
        return None
    plt = pyplot()
    parts: list[str] = []
    for c in cells:
        for k in time_breakdown_s(c):
            if k not in parts:
                parts.append(k)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(cells) + 1.6))
    names = [f"{c.engine} {label(c)}" for c in cells]
    left = [0.0] * len(cells)
    cmap = plt.get_cmap("Set2")
    for i, part in enumerate(parts):
        values = [max(0.0, float(time_breakdown_s(c).get(part) or 0.0)) * 1e3 for c in cells]
        ax.barh(names, values, left=left, color=cmap(i % 8), label=part.replace("_", " "))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("milliseconds (one repetition)")
    ax.set_title("Where the time goes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
