"""Plots of a results document (matplotlib, Agg backend): PNG and SVG files per plot.

Each plot function takes the document and returns a figure, or None when the document
holds nothing for it (an absent metric is skipped, never an error). They live by the
question they answer: ``speed`` (overhead and granularity, breakdown), ``latency``,
``streams`` (rate searches against the ceiling), ``resources`` (memory, start-up) and
``timeline`` (workflow steps), ``task_stream`` (task timelines); ``canvas`` holds
what they share. ``render_all`` writes the files and returns what the HTML page embeds.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from distlab.report.figures import Doc
from distlab.report.plots.canvas import pyplot
from distlab.report.plots.choose import break_even_plot, data_size_plot, scaling_plot
from distlab.report.plots.latency import latency_plot
from distlab.report.plots.resources import memory_plot, startup_plot
from distlab.report.plots.speed import breakdown_plot, overhead_plot
from distlab.report.plots.streams import streams_plot
from distlab.report.plots.task_stream import overhead_split_plot, task_stream_plot
from distlab.report.plots.timeline import timeline_plot


@dataclass
class Plot:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    png_base64: str


# the order of the plots on the page
PLOTS = [
    ("overhead", "Per-task overhead and granularity", overhead_plot),
    ("break_even", "How small can a task be", break_even_plot),
    ("data_size", "How big can the data be", data_size_plot),
    ("scaling", "How far does it scale", scaling_plot),
    ("breakdown", "Time breakdown", breakdown_plot),
    ("overhead_split", "Where each task's time goes", overhead_split_plot),
    ("task_stream", "Task stream", task_stream_plot),
    ("latency", "Latency distributions", latency_plot),
    ("streams", "Streams against the offered rate", streams_plot),
    ("memory", "Peak memory", memory_plot),
    ("startup", "Start-up time per engine", startup_plot),
    ("timeline", "Workflow step timeline", timeline_plot),
]

CAPTIONS = {
    "overhead": "Left: worker time per task beyond the work itself. Right: wall time per "
    "element, including any batch-size sweep.",
    "break_even": "Efficiency of CPU-bound tasks against their duration, every worker busy "
    "(band: the fastest and slowest repetitions); where a curve crosses 90%, tasks are big "
    "enough for that engine.",
    "data_size": "Round trip of one task against the size of the NumPy array it carries, "
    "returns, or reads after one share (checksums verified).",
    "scaling": "Speed-up at equal work against the same engine at the smallest worker "
    "count measured (bars: the fastest and slowest repetitions); the dashed line is ideal "
    "scaling.",
    "breakdown": "Compute, serialisation and scheduling share of one repetition, where the "
    "workload measures them.",
    "overhead_split": "Per engine, the median task's dispatch (submit to start), run, return "
    "(end to taken by the caller) and wait in line behind earlier results, from the "
    "recorded (unranked) repetition.",
    "task_stream": "Each task on its worker process's lane: the bar is its run, the grey "
    "mark below the wait from submit to start, the orange mark above the way back to the "
    "caller (recorded repetition, one clock).",
    "latency": "End-to-end latency percentiles (against intended send times).",
    "streams": "Each engine's search for its highest sustained rate (hollow: a point not "
    "sustained), beside the raw pipe: the same sender, broker and reader with only a copy "
    "loop between, the ceiling on this machine.",
    "memory": "Peak memory (PSS: shared pages counted once) of every engine process during each cell, and at idle.",
    "startup": "Time to start the engine (cluster, servers, workers) and to close it.",
    "timeline": "Each workflow step on its worker, coloured by its final state.",
}


def render_all(doc: Doc, out_dir: Path) -> list[Plot]:
    """Write every applicable plot as PNG and SVG under out_dir; return them in order."""
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for name, title, make in PLOTS:
        fig = make(doc)
        if fig is None:
            continue
        png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
        # no timestamps or tool URLs in the files: the same results give the same plots
        fig.savefig(png, dpi=110, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
        plt.close(fig)
        made.append(
            Plot(
                name,
                title,
                CAPTIONS.get(name, ""),
                png,
                svg,
                base64.b64encode(png.read_bytes()).decode("ascii"),
            )
        )
    return made
