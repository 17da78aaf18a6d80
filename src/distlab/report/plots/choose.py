"""Plots of the "choose by numbers" figures: efficiency against task duration (the
break-even curve), round trip against payload size, and speed-up against workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distlab.report.choose import PER_ELEMENT, bench_rows, scaling_rows
from distlab.report.figures import Doc
from distlab.report.plots.canvas import PALETTE, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _colour(names: list[str], name: str) -> str:
    return PALETTE[names.index(name) % len(PALETTE)]


def break_even_plot(doc: Doc) -> Figure | None:
    rows = [r for r in bench_rows(doc, "break-even") if r.get("points")]
    if not rows:
        return None
    plt = pyplot()
    names = [r["engine"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for r in rows:
        xs = [p["task_ms"] for p in r["points"]]
        ys = [p["efficiency"] for p in r["points"]]
        lo = [p["efficiency_range"][0] for p in r["points"]]
        hi = [p["efficiency_range"][1] for p in r["points"]]
        colour = _colour(names, r["engine"])
        ax.plot(xs, ys, marker="o", color=colour, label=r["engine"])
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.15)
    ax.axhline(0.9, color="#555", linestyle="--", linewidth=0.8)
    ax.text(ax.get_xlim()[0], 0.91, " 90%", fontsize=8, color="#555")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("task duration (ms of CPU work)")
    ax.set_ylabel("efficiency (ideal / measured)")
    ax.set_title("How small can a task be (higher is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def data_size_plot(doc: Doc) -> Figure | None:
    rows = [r for r in bench_rows(doc, "data-size") if r.get("points")]
    if not rows:
        return None
    plt = pyplot()
    names = [r["engine"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    for ax, way in zip(axes, ("argument", "result", "shared"), strict=True):
        for r in rows:
            pts = [p for p in r["points"] if p["payload"] == "array" and "wall" in p.get(way, {})]
            if not pts:
                continue
            xs = [p["bytes"] / 2**20 for p in pts]
            ys = [p[way]["wall"]["median"] * 1e3 for p in pts]
            ax.plot(xs, ys, marker="o", color=_colour(names, r["engine"]), label=r["engine"])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("payload (MB)")
        ax.set_title(way if way != "shared" else "shared once, read by every worker")
    axes[0].set_ylabel("round trip (ms, lower is better)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_plot(doc: Doc) -> Figure | None:
    rows = scaling_rows(doc)
    if not rows:
        return None
    plt = pyplot()
    works = list(dict.fromkeys((r["workload"], r["variant"]) for r in rows))
    names = list(dict.fromkeys(r["engine"] for r in rows))
    fig, axes = plt.subplots(1, len(works), figsize=(4.2 * len(works) + 1, 3.8), squeeze=False)
    top = max(p["workers"] for r in rows for p in r["points"])
    cpus = next((r["cpus"] for r in rows if r.get("cpus")), None)
    for ax, (workload, variant) in zip(axes[0], works, strict=True):
        mine = [r for r in rows if (r["workload"], r["variant"]) == (workload, variant)]
        base = min(r["baseline_workers"] for r in mine)
        ax.plot([base, top], [1, top / base], color="#999", linestyle="--", linewidth=0.8,
                label="ideal")  # fmt: skip
        if cpus and top > cpus:
            ax.axvspan(cpus, top, color="#ddd", alpha=0.5, label=f"more workers than {cpus} CPUs")
        for r in mine:
            xs = [p["workers"] for p in r["points"]]
            ys = [p["speedup"] for p in r["points"]]
            err = [
                [s - p["speedup_range"][0] for s, p in zip(ys, r["points"], strict=True)],
                [p["speedup_range"][1] - s for s, p in zip(ys, r["points"], strict=True)],
            ]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3,
                        color=_colour(names, r["engine"]), label=r["engine"])  # fmt: skip
        per = " per element" if any(r["basis"] == PER_ELEMENT for r in mine) else ""
        title = workload if variant == "-" else f"{workload} {variant}"
        ax.set_title(f"{title}{per}", fontsize=9)
        ax.set_xlabel("workers")
        ax.set_xticks(sorted({p["workers"] for r in rows for p in r["points"]}))
    bases = {r["baseline_workers"] for r in rows}
    against = "one worker" if bases == {1} else "the smallest count measured"
    axes[0][0].set_ylabel(f"speed-up at equal work, against {against}")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
