"""What the engines cost besides time: peak memory per cell and at idle, start-up and
close time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import Doc, work_label
from distlab.report.plots.canvas import engine_colours, pyplot, work_order

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def memory_plot(doc: Doc) -> Figure | None:
    cells = [c for c in doc.cells if c.peak_mem_mb]
    idle = {
        n: e.idle_mem_mb
        for n, e in doc.engines.items()
        if e.idle_mem_mb
    }
    if not cells and not idle:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    groups = [("idle", "-")] if idle else []
    groups += work_order(cells)
    engines = [e for e in colours if e in idle or any(c.engine == e for c in cells)]
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(groups) + 2), 4))
    width = 0.8 / max(1, len(engines))
    for i, engine in enumerate(engines):
        xs, ys = [], []
        for g, (w, v) in enumerate(groups):
            value = None
            if w == "idle" and v == "-" and g == 0 and idle:
                value = idle.get(engine)
            else:
                for c in cells:
                    if (
                        c.engine == engine
                        and c.workload == w
                        and (c.variant or "-") == v
                    ):
                        value = c.peak_mem_mb
            if value:
                xs.append(g + (i - (len(engines) - 1) / 2) * width)
                ys.append(value)
        ax.bar(xs, ys, width=width, color=colours[engine], label=engine)
    names = [
        "engine idle" if (w, v) == ("idle", "-") and idle else work_label(w, v)
        for w, v in groups
    ]
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("peak memory (PSS), all engine processes (MB)")
    ax.set_title("Peak memory (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def startup_plot(doc: Doc) -> Figure | None:
    engines = {
        n: e
        for n, e in doc.engines.items()
        if e.startup_s is not None
    }
    if not engines:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    names = sorted(engines, key=lambda n: engines[n].startup_s)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    start = [engines[n].startup_s for n in names]
    close = [engines[n].close_s or 0.0 for n in names]
    ax.barh(names, start, color=[colours.get(n, "#888") for n in names], label="start")
    ax.barh(names, close, left=start, color="#cccccc", label="close")
    for y, (s, c) in enumerate(zip(start, close, strict=True)):
        ax.text(s + c, y, f" {s:.2f} s", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_title("Engine start-up (and close) time")
    ax.set_xlim(0, max(s + c for s, c in zip(start, close, strict=True)) * 1.2 or 1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
