"""Workflows: every step of a workflow run (microscopy) on its worker, over time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import Doc, label, step_timeline
from distlab.report.plots.canvas import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def timeline_plot(doc: Doc, max_cells: int = 6) -> Figure | None:
    cells = [c for c in doc.cells if step_timeline(c)][:max_cells]
    if not cells:
        return None
    plt = pyplot()
    states = {"done": "#2ca02c", "failed": "#d62728", "retry": "#ff7f0e", "cached": "#9edae5"}
    fig, axes = plt.subplots(len(cells), 1, figsize=(10, 2.6 * len(cells)), squeeze=False)
    for ax, c in zip(axes[:, 0], cells, strict=True):
        events = [
            e
            for e in step_timeline(c)
            if isinstance(e, dict)
            and isinstance(e.get("start"), int | float)
            and isinstance(e.get("end"), int | float)
        ]
        t0 = min((e["start"] for e in events), default=0.0)
        lanes: list[str] = []
        for e in events:
            lane = str(e.get("worker") or e.get("step") or "?")
            if lane not in lanes:
                lanes.append(lane)
            y = lanes.index(lane)
            ax.barh(
                y,
                e["end"] - e["start"],
                left=e["start"] - t0,
                color=states.get(e.get("state"), "#1f77b4"),
                edgecolor="white",
            )
            ax.text(
                e["start"] - t0, y, f" {e.get('step', '')}", va="center", fontsize=6, clip_on=True
            )
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels(lanes, fontsize=7)
        ax.set_title(f"{c.engine}: {label(c)} step timeline", fontsize=9)
        ax.set_xlabel("seconds from the first step")
    handles = [plt.Rectangle((0, 0), 1, 1, color=v) for v in states.values()]
    fig.legend(handles, list(states), fontsize=8, loc="lower center", ncol=len(states))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
