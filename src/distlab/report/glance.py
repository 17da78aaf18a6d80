"""The report at a glance: one row per piece of work (workload and variant), one column per
engine, each cell holding the figure that matters for that work and how far it is from
the best in its row. The HTML report's first screen and the summary `distlab run` prints
at its end are both drawn from :func:`glance`.

The figure per row (:func:`row_kind`):

* ``time``: the median time of the measured repetitions (tasks and batch work);
* ``overhead``: a request/response loop's round trip minus the job's own time, p50;
* ``rate``: a stream search's highest sustained rate (higher is better);
* ``p99``: a fixed-rate stream's p99 latency at the offered rate;
* ``faults``: what the injected fault did (report.fault_figures.fault_verdict): "0", the
  duplicates, "lost 8 of 10" in red, or "no fault" in grey with the reason when it hit no
  busy work of the run (no broker of ours, the run had ended, an idle worker, a host with
  no worker).

A row's winner is marked (a star) only where the best is better than the runner-up at 95%
confidence: two time cells by an exact Mann-Whitney test over their repetitions, which
must also lie more than 10% apart (recommend.separate), two request/response loops by the
same test over their round trips, two rate searches when the runner-up failed at a rate
the best sustained twice. A
p99 from one run and a fault count have no spread: no winner is marked.

A colour is a claim about a ratio to the row's best. Where a figure has a range (a time's
repetitions, a search's bracket between the rate it sustained and the one it failed),
the ratio has one too; a cell takes the class of the ratio's end nearer the best (the
smaller claim), and where the range spans classes the cell says so (``far_css``: the
class of the other end). A figure from one run carries "~".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from distlab.report.fault_figures import LOST, NONE, fault_verdict, has_fault
from distlab.report.figures import (
    Cell,
    Doc,
    _metrics,
    _number,
    extrapolated_from,
    full_median,
    full_range,
    is_race,
    label,
    latency_ms,
    max_sustained_rate,
    shape_of,
)
from distlab.stats import mann_whitney_p

#: ratio-to-best bounds of the colour classes r1 (best) .. r5 (over 10x off)
RATIO_BOUNDS = (1.1, 1.5, 3.0, 10.0)
#: what each kind of row shows, and whether more is better
KINDS: dict[str, tuple[str, bool]] = {
    "time": ("median time", False),
    "overhead": ("round trip beyond the job, p50", False),
    "rate": ("highest sustained rate", True),
    "p99": ("p99 latency at the offered rate", False),
    "faults": ("tasks lost + duplicated under the fault", False),
}
SIGNIFICANCE = 0.05


@dataclass
class GlanceCell:
    engine: str
    #: ok | failed | unverified | n/a
    status: str
    value: float | None = None
    text: str = ""
    #: how far from the row's best (1.0 = the best; None: no figure)
    ratio: float | None = None
    #: the colour class: r1 (best) .. r5, or the status
    css: str = ""
    winner: bool = False
    #: a figure from one run (no spread) or with a spread over 10%: shown with "~"
    rough: bool = False
    #: the ratio's range from the figures' ranges (None: the figure has no range)
    ratio_range: tuple[float, float] | None = None
    #: the class of the range's far end, where it is not the class shown
    far_css: str = ""
    #: why there is no figure (an error, the reason it is not supported)
    note: str = ""


@dataclass
class GlanceRow:
    workload: str
    variant: str
    label: str
    kind: str
    shape: str | None
    cells: dict[str, GlanceCell] = field(default_factory=dict)
    #: False for work that ranks nothing (a cached re-run, a refused request)
    race: bool = True

    @property
    def figure(self) -> str:
        return KINDS[self.kind][0]

    @property
    def higher_is_better(self) -> bool:
        return KINDS[self.kind][1]

    @property
    def winner(self) -> str | None:
        return next((c.engine for c in self.cells.values() if c.winner), None)


def ratio_class(ratio: float | None) -> str:
    if ratio is None:
        return "none"
    for i, bound in enumerate(RATIO_BOUNDS, 1):
        if ratio <= bound:
            return f"r{i}"
    return f"r{len(RATIO_BOUNDS) + 1}"


def row_kind(cells: list[Cell]) -> str:
    if any(has_fault(c) for c in cells):
        return "faults"
    metrics = [_metrics(c) for c in cells if c.status == "ok"]
    if shape_of(cells[0].workload) == "streams":
        return "rate" if any("max_sustained_rate" in m for m in metrics) else "p99"
    if any("engine_share_ms" in m for m in metrics):
        return "overhead"
    return "time"


def value_of(cell: Cell, kind: str) -> float | None:
    if kind == "time":
        return full_median(cell)
    if kind == "overhead":
        return _number((_metrics(cell).get("engine_share_ms") or {}).get("p50"))
    if kind == "rate":
        return max_sustained_rate(cell)
    if kind == "p99":
        return _number(latency_ms(cell).get("p99"))
    verdict = fault_verdict(cell)
    return verdict.value if verdict else None


def text_of(value: float | None, kind: str) -> str:
    if value is None:
        return "none" if kind == "rate" else "-"
    if kind == "rate":
        return f"{value / 1e3:.0f}k/s" if value >= 1e4 else f"{value:,.0f}/s"
    if kind == "faults":
        return f"{value:.0f}"
    seconds = value / 1e3 if kind in ("overhead", "p99") else value
    if seconds >= 100:
        return f"{seconds:.0f}s"
    if seconds >= 1:
        return f"{seconds:.2f}s"
    ms = seconds * 1e3
    return f"{ms:.0f}ms" if ms >= 10 else f"{ms:.1f}ms"


def _overhead_samples(cell: Cell) -> list[float]:
    metrics = _metrics(cell)
    job_ms = _number(metrics.get("job_ms"))
    samples = metrics.get("latency_samples_ms") or []
    if job_ms is None:
        return []
    return [x - job_ms for x in samples if isinstance(x, int | float)]


def _at_ceiling_of_plan(cell: Cell) -> bool:
    """A search that sustained its plan's highest rate and never failed: the engine's
    limit is above it."""
    metrics = _metrics(cell)
    top = (metrics.get("plan") or {}).get("max_rate")
    return (
        metrics.get("first_failed_rate") is None
        and top is not None
        and (max_sustained_rate(cell) or 0) >= float(top)
    )


def separated(best: Cell, runner_up: Cell, kind: str) -> bool:
    """Whether the spread separates the best cell from the runner-up."""
    if kind == "time":
        from distlab.report.recommend import separate

        return separate(best, runner_up)[0] == "clear"
    if kind == "overhead":
        a, b = _overhead_samples(best), _overhead_samples(runner_up)
        return len(a) >= 5 and len(b) >= 5 and mann_whitney_p(a, b) <= SIGNIFICANCE
    if kind == "rate":
        # the runner-up failed at a rate the best sustained twice (the search's
        # confirmation): their brackets are apart
        high = value_of(best, kind)
        failed_at = _metrics(runner_up).get("first_failed_rate")
        confirmed = _metrics(best).get("confirmed") is True
        return confirmed and high is not None and failed_at is not None and high >= failed_at
    return False


def figure_range(cell: Cell, kind: str) -> tuple[float, float] | None:
    """The range the figure is known to lie in: a time's repetitions (min-max, for the
    full workload), a search's bracket (the rate it sustained to the one it failed at;
    unbounded above at the plan's ceiling). None for figures without one."""
    if kind == "time":
        return full_range(cell)
    if kind == "p99":
        spread = (_metrics(cell).get("latency_spread_ms") or {}).get("p99")
        return (float(spread[0]), float(spread[1])) if spread else None
    if kind == "rate":
        low = max_sustained_rate(cell)
        failed_at = _number(_metrics(cell).get("first_failed_rate"))
        if low is None:
            return None
        return low, failed_at if failed_at is not None else math.inf
    return None


def _rough_percentile(cell: Cell) -> bool:
    """A stream percentile from fewer than three trials, from trials too short to hold
    their p99 by 100 events, or whose trials spread by more than +-10%: "~"."""
    metrics = _metrics(cell)
    spread = (metrics.get("latency_spread_ms") or {}).get("p99")
    p99 = value_of(cell, "p99")
    if (metrics.get("trials") or 1) < 3 or not spread or not p99:
        return True
    return (metrics.get("passed_filter") or 0) < 10_000 or (spread[1] - spread[0]) / p99 > 0.2


def rate_text(cell: Cell, value: float) -> str:
    """A search's bracket: '64k-128k/s' (sustained 64k, failed at 128k), '≥128k/s' at the
    plan's ceiling."""
    if _at_ceiling_of_plan(cell):
        return "≥" + text_of(value, "rate")
    failed_at = _number(_metrics(cell).get("first_failed_rate"))
    if failed_at is None:
        return text_of(value, "rate")
    return text_of(value, "rate").removesuffix("/s") + "-" + text_of(failed_at, "rate")


def _ratio_range(cell: Cell, best: Cell, kind: str, higher: bool) -> tuple[float, float] | None:
    mine, top = figure_range(cell, kind), figure_range(best, kind)
    if mine is None or top is None or min(*mine, *top) <= 0:
        return None
    if higher:  # best / mine
        lo, hi = top[0] / mine[1], top[1] / mine[0]
    else:  # mine / best
        lo, hi = mine[0] / top[1], mine[1] / top[0]
    return max(1.0, lo), max(1.0, hi)


def _status(cell: Cell) -> str:
    status = cell.status
    if status == "ok":
        return "ok" if cell.verified else "unverified"
    return "failed" if status == "failed" else "n/a"


def _row(workload: str, variant: str, cells: list[Cell], engines: list[str]) -> GlanceRow:
    kind = row_kind(cells)
    row = GlanceRow(workload, variant, label(cells[0]), kind, shape_of(workload))
    # work that ranks nothing (a cached re-run, a refused request) shows its figures
    # without colours
    row.race = kind != "time" or any(is_race(c) for c in cells if c.status == "ok")
    higher = row.higher_is_better
    ranked: list[tuple[float, Cell]] = []
    for c in cells:
        status = _status(c)
        gc = GlanceCell(c.engine, status, css=status if status != "ok" else "none")
        verdict = fault_verdict(c) if kind == "faults" else None
        if verdict is not None:
            # what the fault did is this row's figure, whether or not the run came through
            gc.text, gc.note, gc.value = verdict.text, verdict.reason, verdict.value
            if verdict.severity == NONE:
                gc.css = "n/a"  # no fault happened to busy work: nothing to rank
            elif verdict.severity == LOST:
                gc.css, gc.ratio = "lost", math.inf  # losing work: the figure the row shows
            elif verdict.value is not None and row.race:
                ranked.append((verdict.value, c))
        elif status == "ok":
            gc.value = value_of(c, kind)
            gc.text = text_of(gc.value, kind)
            if kind == "rate" and gc.value is not None:
                gc.text = rate_text(c, gc.value)
                if _metrics(c).get("sender_limited"):
                    gc.note = "sender-limited: the sender fell behind at a higher rate"
            if kind == "time":
                wall = c.wall or {}
                gc.rough = (wall.get("n") or 0) < 2 or bool(wall.get("unstable"))
            elif kind == "p99":
                gc.rough = _rough_percentile(c)
            gc.text = ("~" if gc.rough else "") + gc.text
            span = extrapolated_from(c) if kind == "time" else None
            if span is not None:
                gc.note = f"extrapolated from {span[0]:,} of {span[1]:,} elements"
            if gc.value is not None and row.race:
                ranked.append((gc.value, c))
            elif kind == "rate" and gc.value is None and _metrics(c).get("sender_limited"):
                # the sender fell behind: what failed is the measurement, not the engine
                gc.text, gc.css = "sender-limited", "n/a"
                gc.note = "the sender could not keep to the offered rate: no rate measured"
            elif kind == "rate" and gc.value is None:  # the search sustained no rate
                gc.ratio, gc.css = math.inf, ratio_class(math.inf)
        else:
            gc.text = {"failed": "failed", "unverified": "wrong"}.get(status, "n/a")
            gc.note = c.error or c.reason or c.verify_detail or ""
        row.cells[c.engine] = gc
    ranked.sort(key=lambda vc: -vc[0] if higher else vc[0])
    if ranked:
        best = ranked[0][0]
        for value, c in ranked:
            gc = row.cells[c.engine]
            if kind == "faults":  # 0 is clean; duplicates are no loss, but not clean
                gc.ratio = 1.0 if value == 0 else math.inf
            elif best == value:
                gc.ratio = 1.0
            elif best <= 0 or value <= 0:
                gc.ratio = math.inf
            else:
                gc.ratio = value / best if not higher else best / value
            gc.css = ratio_class(gc.ratio)
            if kind != "faults" and c is not ranked[0][1] and math.isfinite(gc.ratio):
                gc.ratio_range = _ratio_range(c, ranked[0][1], kind, higher)
            if gc.ratio_range is not None:
                near, far = (ratio_class(x) for x in gc.ratio_range)
                gc.css, gc.far_css = near, far if far != near else ""
        if len(ranked) > 1 and ranked[0][0] != ranked[1][0]:
            row.cells[ranked[0][1].engine].winner = separated(ranked[0][1], ranked[1][1], kind)
    for name in engines:  # an engine with no cell for this work
        row.cells.setdefault(name, GlanceCell(name, "n/a", text="n/a", css="n/a"))
    row.cells = {name: row.cells[name] for name in engines}
    return row


def engines_of(doc: Doc) -> list[str]:
    names: list[str] = []
    for c in doc.cells:
        if c.engine not in names:
            names.append(c.engine)
    return names


def work_keys(cells: list[Cell]) -> list[tuple[str, str]]:
    """(workload, variant) in the run's order, a workload's variants together; a
    workload's '-' (no variant) only when none of its cells reached a variant."""
    keys: list[tuple[str, str]] = []
    for c in cells:
        key = (c.workload, c.variant or "-")
        if key not in keys:
            keys.append(key)
    with_variants = {w for w, v in keys if v != "-"}
    kept = [(w, v) for w, v in keys if v != "-" or w not in with_variants]
    order = list(dict.fromkeys(w for w, _ in kept))
    return sorted(kept, key=lambda k: order.index(k[0]))


def glance(doc: Doc) -> tuple[list[str], list[GlanceRow]]:
    """The engines (columns) and one row per workload/variant, in the run's order. A
    workload's cells without a variant (it never reached its variants: failed to start,
    unsupported) stand in every variant row of that workload."""
    cells = doc.cells
    engines = engines_of(doc)
    rows = []
    for w, v in work_keys(cells):
        mine = [c for c in cells if c.workload == w and (c.variant or "-") == v]
        whole = [
            c
            for c in cells
            if c.workload == w
            and (c.variant or "-") == "-"
            and c.engine not in {m.engine for m in mine}
        ]
        rows.append(_row(w, v, mine + whole, engines))
    return engines, rows
