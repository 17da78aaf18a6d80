"""How fast: speed-up over the sequential loop, time per cell, the cost of task
granularity (per-task overhead, time per element, batch-size sweeps), where the time goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import (
    Doc,
    batch_size,
    batch_sweep,
    elements,
    elements_per_task,
    full_median,
    full_range,
    has_sweep,
    label,
    measured,
    time_breakdown_s,
)
from distlab.report.plots.canvas import engine_colours, pyplot, work_order

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def speedup_plot(doc: Doc) -> Figure | None:
    cells = [c for c in measured(doc) if c.get("speedup")]
    if not cells:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    groups = work_order(cells)
    engines = [e for e in colours if any(c["engine"] == e for c in cells)]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups) + 2), 4))
    width = 0.8 / max(1, len(engines))
    for i, engine in enumerate(engines):
        xs, ys = [], []
        for g, (w, v) in enumerate(groups):
            for c in cells:
                if c["engine"] == engine and c["workload"] == w and (c.get("variant") or "-") == v:
                    xs.append(g + (i - (len(engines) - 1) / 2) * width)
                    ys.append(c["speedup"])
        ax.bar(xs, ys, width=width, label=engine, color=colours[engine])
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.text(len(groups) - 0.5, 1.0, " sequential loop", va="bottom", ha="right", fontsize=8)
    values = [c["speedup"] for c in cells]
    if max(values) / min(values) > 20:
        ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label({"workload": w, "variant": v}) for w, v in groups], fontsize=8)
    ax.set_ylabel("speed-up over the sequential loop")
    ax.set_title("Speed-up per workload (higher is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def time_plot(doc: Doc) -> Figure | None:
    """Median time with min-max spread per cell, full workload (capped runs scaled up)."""
    cells = measured(doc)
    if not cells:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(cells) + 1.6))
    names, med, lo, hi = [], [], [], []
    for c in cells:
        names.append(f"{c['engine']} {label(c)}")
        m = full_median(c)
        r = full_range(c) or (m, m)
        med.append(m)
        lo.append(max(0.0, m - r[0]))
        hi.append(max(0.0, r[1] - m))
    ax.barh(
        names,
        med,
        xerr=[lo, hi],
        color=[colours.get(c["engine"], "#888") for c in cells],
        capsize=3,
    )
    ax.set_xscale("log")
    ax.set_xlabel("seconds, full workload (median, bars: min-max)")
    ax.set_title("Measured time per cell (lower is better)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def overhead_plot(doc: Doc) -> Figure | None:
    cells = [c for c in measured(doc) if elements_per_task(c) is not None]
    sweeps = [c for c in measured(doc) if has_sweep(c)]
    with_overhead = [c for c in cells if c.get("per_task_overhead_ms") is not None]
    if not with_overhead and not sweeps:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    left, right = axes
    for engine in colours:
        mine = sorted(
            (c for c in with_overhead if c["engine"] == engine and c["per_task_overhead_ms"] > 0),
            key=elements_per_task,
        )
        if mine:
            left.plot(
                [elements_per_task(c) for c in mine],
                [c["per_task_overhead_ms"] for c in mine],
                marker="o",
                color=colours[engine],
                label=engine,
            )
        # time per element of work, from the cells and from any batch-size sweep
        points = {}
        for c in cells:
            if c["engine"] == engine:
                count = elements(c) or (batch_size(c) or 1) * (c.get("n_tasks") or 1)
                points[elements_per_task(c)] = (c.get("wall_s") or 0) / max(1, count)
        for c in sweeps:
            if c["engine"] == engine:
                total = elements(c) or (batch_size(c) or 0) * (c.get("n_tasks") or 0)
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
    names = [f"{c['engine']} {label(c)}" for c in cells]
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
