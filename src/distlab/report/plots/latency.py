"""Latency: the distribution of request and event latencies, tail included."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.figures import Doc, label, latency_ms, latency_samples_ms, measured
from distlab.report.plots.canvas import engine_colours, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _percentile_key(key: str) -> float | None:
    if not key.startswith("p"):
        return None
    try:
        return float(key[1:])
    except ValueError:
        return None


def latency_plot(doc: Doc) -> Figure | None:
    rows = []
    for c in measured(doc):
        pcts = {
            _percentile_key(k): v
            for k, v in latency_ms(c).items()
            if _percentile_key(k) is not None and isinstance(v, int | float)
        }
        samples = latency_samples_ms(c)
        if pcts or samples:
            rows.append((c, pcts, samples))
    if not rows:
        return None
    plt = pyplot()
    colours = engine_colours(doc)
    fig, ax = plt.subplots(figsize=(8, 4))
    styles = ["-", "--", ":", "-."]
    workloads = sorted({label(c) for c, _, _ in rows})
    for c, pcts, samples in rows:
        style = styles[workloads.index(label(c)) % len(styles)]
        name = f"{c.engine} {label(c)}"
        if samples:
            xs = sorted(samples)
            n = len(xs)
            # HDR-style axis: percentile p plotted at 1/(1-p) so the tail gets room
            qs = [(i + 0.5) / n for i in range(n)]
            ax.plot(
                [1 / (1 - q) for q in qs], xs, style, color=colours.get(c.engine), label=name
            )
        else:
            ps = sorted(p for p in pcts if p < 100)
            ax.plot(
                [1 / (1 - p / 100) for p in ps],
                [pcts[p] for p in ps],
                style,
                marker="o",
                color=colours.get(c.engine),
                label=name,
            )
    ticks = [50, 90, 99, 99.9, 99.99]
    ax.set_xscale("log")
    ax.set_xlim(left=1)
    ax.set_xticks([1 / (1 - p / 100) for p in ticks])
    ax.set_xticklabels([f"p{p:g}" for p in ticks])
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    ax.set_xlabel("percentile")
    ax.set_title("Latency distribution (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
