"""Plots of a results document (matplotlib, Agg backend): PNG and SVG files per plot.

Each plot function returns a figure, or None when the document holds nothing for it (an
absent metric is skipped, never an error). ``render_all`` writes the files and returns
what the HTML page embeds.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from distlab.report.recommend import full_median, full_range, label, measured


@dataclass
class Plot:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    png_base64: str


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit: files only
    import matplotlib.pyplot as plt

    return plt


def engine_colours(doc: dict) -> dict[str, str]:
    names = list(doc.get("engines") or {})
    for c in doc.get("cells") or []:
        if c.get("engine") not in names:
            names.append(c.get("engine"))
    names = [n for n in names if n != "reference"]
    palette = [
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
    ]
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def _groups(cells: list[dict]) -> list[tuple[str, str]]:
    seen = []
    for c in cells:
        key = (c["workload"], c.get("variant") or "-")
        if key not in seen:
            seen.append(key)
    return seen


def speedup_plot(doc: dict):
    cells = [c for c in measured(doc) if c.get("speedup")]
    if not cells:
        return None
    plt = _pyplot()
    colours = engine_colours(doc)
    groups = _groups(cells)
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


def _granularity(cell: dict) -> float | None:
    """Elements of work per task: a batch size, or 1 for one task per element."""
    m = cell.get("metrics") or {}
    if m.get("batch_size"):
        return float(m["batch_size"])
    if cell.get("variant") == "per_element" or (
        m.get("elements") and cell.get("n_tasks") == m.get("elements")
    ):
        return 1.0
    return None


def overhead_plot(doc: dict):
    cells = [c for c in measured(doc) if _granularity(c) is not None]
    sweeps = [
        c
        for c in measured(doc)
        if isinstance((c.get("metrics") or {}).get("sweep"), list) and c["metrics"]["sweep"]
    ]
    with_overhead = [c for c in cells if c.get("per_task_overhead_ms") is not None]
    if not with_overhead and not sweeps:
        return None
    plt = _pyplot()
    colours = engine_colours(doc)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    left, right = axes
    for engine in colours:
        mine = sorted(
            (c for c in with_overhead if c["engine"] == engine and c["per_task_overhead_ms"] > 0),
            key=_granularity,
        )
        if mine:
            left.plot(
                [_granularity(c) for c in mine],
                [c["per_task_overhead_ms"] for c in mine],
                marker="o",
                color=colours[engine],
                label=engine,
            )
        # time per element of work, from the cells and from any batch-size sweep
        points = {}
        for c in cells:
            if c["engine"] == engine:
                m = c.get("metrics") or {}
                elements = (m.get("batch_size") or 1) * (c.get("n_tasks") or 1)
                elements = m.get("elements") or elements
                points[_granularity(c)] = (c.get("wall_s") or 0) / max(1, elements)
        for c in sweeps:
            if c["engine"] == engine:
                m = c["metrics"]
                total = m.get("elements") or (m.get("batch_size") or 0) * (c.get("n_tasks") or 0)
                for row in c["metrics"]["sweep"]:
                    if row.get("batch_size") and row.get("wall_s") and total:
                        points[float(row["batch_size"])] = row["wall_s"] / total
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


def _latency_samples(metrics: dict) -> list[float] | None:
    for key, value in metrics.items():
        if "latency" in key and "sample" in key and isinstance(value, list) and value:
            return [float(x) for x in value if isinstance(x, int | float)]
    lat = metrics.get("latency_ms")
    if isinstance(lat, dict) and isinstance(lat.get("samples"), list) and lat["samples"]:
        return [float(x) for x in lat["samples"] if isinstance(x, int | float)]
    return None


def _percentile_key(key: str) -> float | None:
    if not key.startswith("p"):
        return None
    try:
        return float(key[1:])
    except ValueError:
        return None


def latency_plot(doc: dict):
    rows = []
    for c in measured(doc):
        m = c.get("metrics") or {}
        lat = m.get("latency_ms") if isinstance(m.get("latency_ms"), dict) else {}
        pcts = {
            _percentile_key(k): v
            for k, v in lat.items()
            if _percentile_key(k) is not None and isinstance(v, int | float)
        }
        samples = _latency_samples(m)
        if pcts or samples:
            rows.append((c, pcts, samples))
    if not rows:
        return None
    plt = _pyplot()
    colours = engine_colours(doc)
    fig, ax = plt.subplots(figsize=(8, 4))
    styles = ["-", "--", ":", "-."]
    workloads = sorted({label(c) for c, _, _ in rows})
    for c, pcts, samples in rows:
        style = styles[workloads.index(label(c)) % len(styles)]
        name = f"{c['engine']} {label(c)}"
        if samples:
            xs = sorted(samples)
            n = len(xs)
            # HDR-style axis: percentile p plotted at 1/(1-p) so the tail gets room
            qs = [(i + 0.5) / n for i in range(n)]
            ax.plot(
                [1 / (1 - q) for q in qs], xs, style, color=colours.get(c["engine"]), label=name
            )
        else:
            ps = sorted(p for p in pcts if p < 100)
            ax.plot(
                [1 / (1 - p / 100) for p in ps],
                [pcts[p] for p in ps],
                style,
                marker="o",
                color=colours.get(c["engine"]),
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


def memory_plot(doc: dict):
    cells = [c for c in doc.get("cells") or [] if c.get("peak_rss_mb")]
    idle = {
        n: e["idle_rss_mb"]
        for n, e in (doc.get("engines") or {}).items()
        if isinstance(e, dict) and e.get("idle_rss_mb")
    }
    if not cells and not idle:
        return None
    plt = _pyplot()
    colours = engine_colours(doc)
    groups = [("idle", "-")] if idle else []
    groups += _groups(cells)
    engines = [e for e in colours if e in idle or any(c["engine"] == e for c in cells)]
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
                        c["engine"] == engine
                        and c["workload"] == w
                        and (c.get("variant") or "-") == v
                    ):
                        value = c["peak_rss_mb"]
            if value:
                xs.append(g + (i - (len(engines) - 1) / 2) * width)
                ys.append(value)
        ax.bar(xs, ys, width=width, color=colours[engine], label=engine)
    names = [
        "engine idle" if (w, v) == ("idle", "-") and idle else label({"workload": w, "variant": v})
        for w, v in groups
    ]
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("peak resident memory, all engine processes (MB)")
    ax.set_title("Peak memory (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def startup_plot(doc: dict):
    engines = {
        n: e
        for n, e in (doc.get("engines") or {}).items()
        if isinstance(e, dict) and e.get("startup_s") is not None
    }
    if not engines:
        return None
    plt = _pyplot()
    colours = engine_colours(doc)
    names = sorted(engines, key=lambda n: engines[n]["startup_s"])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    start = [engines[n]["startup_s"] for n in names]
    close = [engines[n].get("close_s") or 0.0 for n in names]
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


def breakdown_plot(doc: dict):
    cells = [
        c
        for c in measured(doc)
        if isinstance((c.get("metrics") or {}).get("breakdown_s"), dict)
        and c["metrics"]["breakdown_s"]
    ]
    if not cells:
        return None
    plt = _pyplot()
    parts: list[str] = []
    for c in cells:
        for k in c["metrics"]["breakdown_s"]:
            if k not in parts:
                parts.append(k)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(cells) + 1.6))
    names = [f"{c['engine']} {label(c)}" for c in cells]
    left = [0.0] * len(cells)
    cmap = plt.get_cmap("Set2")
    for i, part in enumerate(parts):
        values = [
            max(0.0, float(c["metrics"]["breakdown_s"].get(part) or 0.0)) * 1e3 for c in cells
        ]
        ax.barh(names, values, left=left, color=cmap(i % 8), label=part.replace("_", " "))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("milliseconds (one repetition)")
    ax.set_title("Where the time goes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def timeline_plot(doc: dict, max_cells: int = 6):
    cells = [
        c
        for c in doc.get("cells") or []
        if isinstance((c.get("metrics") or {}).get("timeline"), list) and c["metrics"]["timeline"]
    ][:max_cells]
    if not cells:
        return None
    plt = _pyplot()
    states = {"done": "#2ca02c", "failed": "#d62728", "retry": "#ff7f0e", "cached": "#9edae5"}
    fig, axes = plt.subplots(len(cells), 1, figsize=(10, 2.6 * len(cells)), squeeze=False)
    for ax, c in zip(axes[:, 0], cells, strict=True):
        events = [
            e
            for e in c["metrics"]["timeline"]
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
        ax.set_title(f"{c['engine']}: {label(c)} step timeline", fontsize=9)
        ax.set_xlabel("seconds from the first step")
    handles = [plt.Rectangle((0, 0), 1, 1, color=v) for v in states.values()]
    fig.legend(handles, list(states), fontsize=8, loc="lower center", ncol=len(states))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def time_plot(doc: dict):
    """Median time with min-max spread per cell, full workload (capped runs scaled up)."""
    cells = measured(doc)
    if not cells:
        return None
    plt = _pyplot()
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


PLOTS = [
    ("speedup", "Speed-up per workload", speedup_plot),
    ("time", "Time per cell", time_plot),
    ("overhead", "Per-task overhead and granularity", overhead_plot),
    ("breakdown", "Time breakdown", breakdown_plot),
    ("latency", "Latency distributions", latency_plot),
    ("memory", "Peak memory", memory_plot),
    ("startup", "Start-up time per engine", startup_plot),
    ("timeline", "Workflow step timeline", timeline_plot),
]

CAPTIONS = {
    "speedup": "Sequential single-process time divided by the engine's median time; "
    "below the dashed line the sequential loop was faster.",
    "time": "Median of the measured repetitions with min-max whiskers; capped runs "
    "(one task per element) scaled to the full workload.",
    "overhead": "Left: worker time per task beyond the work itself. Right: wall time per "
    "element, including any batch-size sweep.",
    "breakdown": "Compute, serialisation and scheduling share of one repetition, where the "
    "workload measures them.",
    "latency": "End-to-end latency percentiles (against intended send times).",
    "memory": "Peak resident memory of every engine process during each cell, and at idle.",
    "startup": "Time to start the engine (cluster, servers, workers) and to close it.",
    "timeline": "Each workflow step on its worker, coloured by its final state.",
}


def render_all(doc: dict, out_dir: Path) -> list[Plot]:
    """Write every applicable plot as PNG and SVG under out_dir; return them in order."""
    plt = _pyplot()
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
