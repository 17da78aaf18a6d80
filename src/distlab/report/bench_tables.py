"""Terminal tables of `distlab bench` figures (the rows ``distlab.bench.runner.run_cells`` returns).

A row with an ``error`` key is an engine that could not be measured: its error fills the
row instead of figures.
"""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

GRANULARITY_COLUMNS = (
    "engine",
    "loop s",
    "numpy s",
    "auto batch",
    "batched s",
    "best batch",
    "best s",
    "auto/best",
    "per-elem ms/task",
    "per-elem full s (extrap.)",
    "batched vs per-elem",
    "vs loop",
    "vs numpy",
    "compute/serial./sched. s",
)

TINY_TASKS_COLUMNS = (
    "engine",
    "distlab tasks/s",
    "native tasks/s",
    "adapter cost (thr.)",
    "distlab RT p50/p99 ms",
    "native RT p50/p99 ms",
    "adapter cost (p50)",
)


def _error_row(table: Table, row: dict[str, Any], width: int) -> None:
    table.add_row(row["engine"], f"[red]{row['error']}[/]", *[""] * (width - 2))


def granularity_table(rows: list[dict[str, Any]], n: int, repeats: int) -> Table:
    """W2: per-element against batched tasks, the best batch size, NumPy and the loop."""
    per_runs = max(3, min(repeats, 5))
    t = Table(
        title=(
            f"W2 numbers, n={n:,}: medians of {repeats} interleaved rounds (per-element: "
            f"median of {per_runs} runs, fixed + per-element cost fitted on two prefixes, "
            "extrapolated to n)"
        )
    )
    for col in GRANULARITY_COLUMNS:
        t.add_column(col, overflow="fold")
    for r in rows:
        if "error" in r:
            _error_row(t, r, len(GRANULARITY_COLUMNS))
            continue
        b = r["breakdown_s"]
        t.add_row(
            r["engine"],
            f"{r['sequential_s']:.3f}",
            f"{r['numpy_s']:.4f}",
            f"{r['auto_batch_size']:,}",
            f"{r['auto_s']:.3f}",
            f"{r['best_batch_size']:,}",
            f"{r['best_s']:.3f}",
            f"{r['auto_vs_best']:.2f}",
            f"{r['per_element_task_ms']:.3f}",
            f"{r['per_element_extrapolated_s']:.1f}",
            f"{r['batched_vs_per_element']:.0f}x",
            f"{r['speedup_vs_sequential']:.2f}x",
            f"{r['speedup_vs_numpy']:.3f}x",
            f"{b['compute']:.3f}/{b['serialization']:.3f}/{b['scheduling_and_other']:.3f}",
        )
    return t


def granularity_sweeps(rows: list[dict[str, Any]]) -> list[str]:
    """One rich-markup line per engine: the wall time of every batch size tried."""
    lines = []
    for r in rows:
        if "sweep" in r:
            sweep = ", ".join(f"{s['batch_size']:,}: {s['wall_s']:.3f}s" for s in r["sweep"])
            lines.append(f"[dim]{r['engine']} sweep: {sweep}[/]")
    return lines


def tiny_tasks_table(rows: list[dict[str, Any]], n: int, round_trips: int, repeats: int) -> Table:
    """No-op task throughput and round trips, through distlab and through the engine's API."""
    t = Table(title=f"no-op tasks: {n} per sample, median of {repeats}; {round_trips} round trips")
    for col in TINY_TASKS_COLUMNS:
        t.add_column(col)
    for r in rows:
        if "error" in r:
            _error_row(t, r, len(TINY_TASKS_COLUMNS))
            continue
        rt = r["adapter_rt_ms"]
        nrt = r.get("native_rt_ms")  # None: the engine has no native API distlab measures
        t.add_row(
            r["engine"],
            f"{r['adapter_tasks_per_s']:,.0f}",
            f"{r['native_tasks_per_s']:,.0f}" if nrt else "n/a",
            f"{(r['throughput_cost'] - 1) * 100:+.1f}%" if nrt else "-",
            f"{rt['p50']:.2f} / {rt['p99']:.2f}",
            f"{nrt['p50']:.2f} / {nrt['p99']:.2f}" if nrt else "n/a",
            f"{(r['rt_p50_cost'] - 1) * 100:+.1f}%" if nrt else "-",
        )
    return t


RTT_COLUMNS = (
    "engine",
    "tasks/s at 0 ms",
    "tasks/s at {rtt}",
    "throughput lost per ms (range)",
    "RT p50 ms at 0 ms",
    "RT p50 ms at {rtt}",
    "RT ms per ms of RTT (range)",
    "jobs p50 / p99 ms at 0 ms",
    "jobs p50 / p99 ms at {rtt}",
    "jobs p50 ms per ms of RTT (range)",
    "links (details: results)",
)

#: how the slopes are read, for the table's title and the page's note
RTT_SLOPES_NOTE = (
    "per ms of round trip: the medians' difference over the ms added, its range (in "
    "brackets) from the samples' extremes, 3 or more at each round trip; blank where no "
    "link of the engine carried the delay"
)


def rtt_cells(row: dict[str, Any]) -> list[str]:
    """One engine's `distlab bench rtt` figures as the text of RTT_COLUMNS (after the
    engine); an engine that could not be measured: its error, then blanks."""
    if "error" in row:
        return [row["error"], *[""] * (len(RTT_COLUMNS) - 2)]
    base, delayed = row["points"]
    links = delayed.get("links", {})
    carried = row.get("delayed_links")
    if carried is None:  # a file written before rows said which links were delayed
        carried = [k for k, v in links.items() if v.startswith(("Toxiproxy", "netem"))]
    spared = [k for k in links if k not in carried]
    where = f"delayed: {', '.join(carried) or 'none'}"
    where += f"; not delayed: {', '.join(spared)}" if spared else ""
    return [
        f"{base['adapter_tasks_per_s']:,.0f}",
        f"{delayed['adapter_tasks_per_s']:,.0f}",
        _slope(row, "tasks_per_s_loss_per_rtt_ms", "{:.1%}"),
        _rt_p50(base),
        _rt_p50(delayed),
        _slope(row, "rt_p50_ms_per_rtt_ms", "{:.2f}"),
        _jobs_rr(base),
        _jobs_rr(delayed),
        _slope(row, "jobs_p50_ms_per_rtt_ms", "{:.2f}"),
        where,
    ]


def _slope(row: dict[str, Any], key: str, form: str) -> str:
    """A slope with its range; blank with the reason where there is none."""
    if row.get("slopes_blank"):
        return f"- ({row['slopes_blank']})"
    if key not in row:
        return "- (fewer than 3 samples)"
    rng = row.get(f"{key}_range")
    spread = f" [{form.format(rng[0])}–{form.format(rng[1])}]" if rng else ""
    return form.format(row[key]) + spread


def _rt_p50(point: dict[str, Any]) -> str:
    """The one-task round trip's p50: the median of its groups' [min–max] when measured
    in groups, else the p50 of all its round trips."""
    groups = point.get("rt_p50_samples_ms")
    if groups:
        return f"{statistics.median(groups):.2f} [{min(groups):.2f}–{max(groups):.2f}]"
    return f"{point['adapter_rt_ms']['p50']:.2f}"


def _jobs_rr(point: dict[str, Any]) -> str:
    """The jobs request/response round trip (its job's own sleep included)."""
    rr = point.get("jobs_rr_ms")
    return f"{rr['p50']:.1f} / {rr['p99']:.1f}" if rr else "-"


def rtt_table(rows: list[dict[str, Any]], rtt_ms: float, n_hosts: int) -> Table:
    """Tiny tasks at 0 ms and at ``rtt_ms`` round trip, across ``n_hosts`` test hosts."""
    t = Table(
        title=f"tiny tasks across {n_hosts} test hosts at 0 and {rtt_ms:g} ms round trip; "
        + RTT_SLOPES_NOTE
    )
    for col in RTT_COLUMNS:
        t.add_column(col.replace("{rtt}", f"{rtt_ms:g} ms"), overflow="fold")
    for r in rows:
        t.add_row(r["engine"], *rtt_cells(r))
    return t


RTT_QUERY_COLUMNS = (
    "engine",
    "interface",
    "query",
    "time ms at 0 ms",
    "time ms at {rtt}",
    "ms per ms of RTT (range)",
    "links (details: results)",
)


def rtt_query_cells(row: dict[str, Any]) -> list[str]:
    """One engine's dataframe row of `distlab bench rtt` (a TPC-H query's median time
    [min–max] at each round trip) as the text of RTT_QUERY_COLUMNS after the engine."""
    if "error" in row:
        return [row["error"], *[""] * (len(RTT_QUERY_COLUMNS) - 2)]
    base, delayed = row["points"]
    carried = row.get("delayed_links") or []
    spared = [k for k in delayed.get("links", {}) if k not in carried]
    where = f"delayed: {', '.join(carried) or 'none'}"
    where += f"; not delayed: {', '.join(spared)}" if spared else ""
    return [
        str(delayed.get("interface", "")),
        str(row["query"]),
        _query_ms(base),
        _query_ms(delayed),
        _slope(row, "query_p50_ms_per_rtt_ms", "{:.2f}"),
        where,
    ]


def _query_ms(point: dict[str, Any]) -> str:
    ms = [s * 1e3 for s in point.get("query_samples_s") or []]
    return f"{statistics.median(ms):.1f} [{min(ms):.1f}–{max(ms):.1f}]" if ms else "-"


def rtt_query_table(rows: list[dict[str, Any]], rtt_ms: float, n_hosts: int) -> Table:
    """A small TPC-H query at 0 ms and at ``rtt_ms`` round trip, across ``n_hosts``."""
    t = Table(
        title=f"a TPC-H query (SF 0.01) across {n_hosts} test hosts at 0 and {rtt_ms:g} ms "
        "round trip, every answer verified; " + RTT_SLOPES_NOTE
    )
    for col in RTT_QUERY_COLUMNS:
        t.add_column(col.replace("{rtt}", f"{rtt_ms:g} ms"), overflow="fold")
    for r in rows:
        t.add_row(r["engine"], *rtt_query_cells(r))
    return t


STREAMS_COLUMNS = (
    "engine",
    "highest sustained (ev/s)",
    "of raw pipe",
    "p50 / p99 / p99.9 ms",
    "points (sustained)",
    "sender lag max",
    "windows exact",
)


def streams_table(rows: list[dict[str, Any]], p: dict[str, Any]) -> Table:
    """Each engine's highest sustained rate beside the raw pipe's ceiling."""
    t = Table(
        title=(
            f"streams on Apache Kafka, query {p.get('query', 'windows')}: "
            f"{p['seconds']:g} s per point after {p['warmup_s']:g} s "
            f"warm-up; sustained = nothing lost, >= 95% of offered, p99 < "
            f"{p['p99_bound_ms']:g} ms"
        )
    )
    for col in STREAMS_COLUMNS:
        t.add_column(col)
    ceiling = next((r.get("best_rate") for r in rows if r["engine"] == "raw pipe"), None)
    for r in rows:
        if "error" in r:
            _error_row(t, r, len(STREAMS_COLUMNS))
            continue
        best, at = r.get("best_rate"), r.get("at_best") or {}
        lat = at.get("latency_ms") or {}
        points = r.get("points", [])
        lags = [pt["send_lag_ms"] for pt in points]
        limited = " (sender-limited)" if r.get("sender_limited") else ""
        t.add_row(
            r["engine"],
            (f"{best:,.0f}" if best else "none") + limited,
            f"{best / ceiling:.0%}" if best and ceiling else "-",
            " / ".join(
                f"{lat[k]:.1f}" if lat.get(k) is not None else "-" for k in ("p50", "p99", "p99.9")
            ),
            f"{len(points)} ({sum(pt['sustained'] for pt in points)})",
            f"{max(lags):.1f} ms" if lags else "-",
            "yes" if r.get("all_verified") else "NO",
        )
    return t
