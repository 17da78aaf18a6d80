"""Task timelines (``distlab run --timeline``): the task stream of each recorded cell (one
lane per worker process, as Dask's task stream draws it) and, per workload, a stacked bar
per engine of where a typical task's time went."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import Doc, label
from distlab.report.plots.canvas import pyplot
from distlab.report.timeline_tables import PHASE_TEXT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PHASE_COLOURS = {
    "queued": "#dddddd",
    "dispatch": "#9e9e9e",
    "run": "#1f77b4",
    "return": "#ff7f0e",
    "in_line": "#f7c98b",
}


def _recorded(doc: Doc) -> list:
    return [c for c in doc.cells if c.timeline and c.timeline.get("available")]


def task_stream_plot(doc: Doc, max_cells: int = 8) -> Figure | None:
    cells = _recorded(doc)[:max_cells]
    if not cells:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(cells), 1, figsize=(10, 1.2 + 1.1 * len(cells)), squeeze=False)
    for ax, c in zip(axes[:, 0], cells, strict=True):
        tasks = c.timeline["tasks"]
        lanes = sorted({t[1] for t in tasks})
        lane_of = {pid: i for i, pid in enumerate(lanes)}
        for _id, pid, sub, start, end, recv in tasks:
            y = lane_of[pid]
            # the run on its worker's lane; the wait for a worker and the way back as thin
            # marks on the same lane, so a gap between bars reads as idle or overhead
            ax.barh(y, end - start, left=start, height=0.6, color=PHASE_COLOURS["run"])
            ax.plot([sub, start], [y - 0.38, y - 0.38], color=PHASE_COLOURS["dispatch"], lw=1)
            ax.plot([end, recv], [y + 0.38, y + 0.38], color=PHASE_COLOURS["return"], lw=1)
        ax.set_yticks(range(len(lanes)), [f"pid {p}" for p in lanes], fontsize=7)
        ax.set_title(f"{c.engine} · {label(c)}", fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.set_ylim(-0.7, len(lanes) - 0.3)
    axes[-1, 0].set_xlabel("seconds after the recorded repetition began")
    fig.tight_layout()
    return fig


def overhead_split_plot(doc: Doc) -> Figure | None:
    cells = _recorded(doc)
    if not cells:
        return None
    works = list(dict.fromkeys(label(c) for c in cells))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(works), figsize=(4.2 * len(works), 3.6), squeeze=False)
    for ax, work in zip(axes[0], works, strict=True):
        here = [c for c in cells if label(c) == work]
        names = [c.engine for c in here]
        bottom = [0.0] * len(here)
        for phase in PHASE_TEXT:
            heights = [c.timeline["split"][phase]["p50_ms"] for c in here]
            ax.bar(names, heights, bottom=bottom, color=PHASE_COLOURS[phase],
                   label=PHASE_TEXT[phase])  # fmt: skip
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_title(work, fontsize=9)
        ax.set_ylabel("ms per task (medians, stacked)")
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
