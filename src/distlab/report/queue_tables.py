"""The terminal table of `distlab bench queues` (the rows distlab.bench.queues measures),
beside the published figures: only the ratios between queues compare across machines."""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

QUEUES_COLUMNS = (
    "queue (pool)",
    "workers",
    "enqueue s med [min-max]",
    "to last result s med [min-max]",
    "jobs/s",
    "x fastest",
    "published s",
    "published x fastest",
    "RT p50 / p99 ms",
)


def spread(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} [{min(samples):.2f}-{max(samples):.2f}]"


def queues_table(
    rows: list[dict[str, Any]], params: dict[str, Any], published: dict[str, float], note: str
) -> Table:
    """Each queue and pool: enqueue time and time to the last result (each from the first
    enqueue), jobs/s, and how many times the fastest row's time it took, measured and
    published; a row that could not be measured shows its error."""
    work = f", {params['work_ms']:g} ms of CPU each" if params["work_ms"] else " (no-op)"
    title = (
        f"{params['n']:,} jobs{work}, {params['repeats']} samples each; "
        f"{params['round_trips']} round trips; {note}"
    )
    table = Table(title=title)
    for column in QUEUES_COLUMNS:
        table.add_column(column)
    measured = [r for r in rows if "error" not in r]
    fastest = min((statistics.median(r["to_last_result_s"]) for r in measured), default=None)
    in_table = {r["engine"] for r in rows}
    fastest_published = min((v for k, v in published.items() if k in in_table), default=None)
    for r in rows:
        if "error" in r:
            table.add_row(
                r.get("label", r["engine"]), r["error"], *[""] * (len(QUEUES_COLUMNS) - 2)
            )
            continue
        last = statistics.median(r["to_last_result_s"])
        paper = published.get(r["engine"])
        rt = r["round_trip_ms"]
        table.add_row(
            r["label"],
            str(r["workers"]),
            spread(r["enqueue_s"]),
            spread(r["to_last_result_s"]),
            f"{r['jobs_per_s']:,.0f}",
            f"{last / fastest:.1f}",
            f"{paper:g}" if paper else "-",
            f"{paper / fastest_published:.1f}" if paper and fastest_published else "-",
            f"{rt['p50']:.2f} / {rt['p99']:.2f}",
        )
    return table
