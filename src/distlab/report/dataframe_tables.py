"""The tables and the plot of `distlab bench tpch` (the rows distlab.bench.tpch returns).

Per scale factor, a query per row and an engine per column: the warm runs' median with
their range, the first run apart (planning, JIT and JVM warm-up are paid there), the peak
memory of the engine's processes, and how the answer was checked. Then per engine: the
largest scale at which it answered every query it can express, and why it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

MARKS = {"unsupported": "n/a", "not tried": "not tried", "time limit": "TIME LIMIT",
         "out of memory": "OUT OF MEMORY", "killed": "KILLED", "failed": "FAILED",
         "wrong": "WRONG", "disputed": "DISPUTED"}  # fmt: skip


def engines_of(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["engine"] for r in rows if r.get("engine")))


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    status = row["status"]
    if status != "ok":
        colour = "dim" if status in ("unsupported", "not tried") else "red"
        return f"[{colour}]{MARKS.get(status, status)}[/]"
    warm = row.get("warm")
    text = (f"{warm['median']:.3f} s [{warm['min']:.3f}-{warm['max']:.3f}]" if warm
            else f"{row['first_s']:.3f} s (one run)")  # fmt: skip
    text += f"\nfirst {row['first_s']:.3f} s, {row['peak_mem_mb'] / 1024:.1f} GiB"
    if row.get("spill_peak_mb"):
        text += f", spill {row['spill_peak_mb']:.0f} MiB"
    text += f"\n[green]{row.get('checked_by', '')}[/]"
    return text


def scale_tables(rows: list[dict[str, Any]], repeats: int) -> list[Table]:
    engines = engines_of(rows)
    tables = []
    for sf in sorted({r["sf"] for r in rows if r.get("event") == "query"}):
        table = Table(title=f"TPC-H SF {sf:g}: warm median \\[min-max] of {repeats} runs; first "
                            "run; peak memory of the engine's processes; how it was checked")  # fmt: skip
        table.add_column("query")
        for engine in engines:
            table.add_column(engine, overflow="fold")
        here = [r for r in rows if r.get("sf") == sf and r.get("event") == "query"]
        for query in dict.fromkeys(r["query"] for r in here if r.get("query")):
            cells = {r["engine"]: r for r in here if r.get("query") == query}
            table.add_row(query, *(_cell(cells.get(e)) for e in engines))
        tables.append(table)
    return tables


def reasons(rows: list[dict[str, Any]]) -> list[str]:
    """One line per cell that did not complete, with its reason."""
    return [
        f"SF {r['sf']:g} {r['engine']} {r.get('query') or '(start)'}: {r['status']}: {r['reason']}"
        for r in rows
        if r.get("event") == "query" and r["status"] not in ("ok", "not tried")
    ]


def largest_completed(rows: list[dict[str, Any]], engine: str) -> tuple[float | None, str | None]:
    """The largest scale at which the engine answered every query it can express, and
    the first failure beyond it."""
    scales = sorted({r["sf"] for r in rows if r.get("engine") == engine and "sf" in r})
    best, failure = None, None
    for sf in scales:
        mine = [r for r in rows if r.get("engine") == engine and r.get("sf") == sf
                and r.get("event") == "query"]  # fmt: skip
        bad = [r for r in mine if r["status"] not in ("ok", "unsupported")]
        if bad:
            first = bad[0]
            failure = f"SF {sf:g} {first.get('query') or ''}: {first['status']}: {first['reason']}"
            break
        best = sf
    return best, failure


def summary_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Per engine: the largest scale factor it completed, and what stopped it")
    for column in ("engine", "interface", "start-up s", "largest SF completed", "stopped by"):
        table.add_column(column, overflow="fold")
    for engine in engines_of(rows):
        started = [r for r in rows if r.get("engine") == engine and r.get("event") == "started"]
        best, failure = largest_completed(rows, engine)
        table.add_row(
            engine,
            started[0]["interface"] if started else "",
            f"{started[0]['startup_s']:.2f}" if started else "",
            "none" if best is None else f"{best:g}",
            failure or "nothing (every scale asked for completed)",
        )
    return table


def scale_plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Each engine's total warm time over the queries it completed at every scale asked,
    against the scale factor (log-log); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for engine in engines_of(rows):
        points = []
        for sf in sorted({r["sf"] for r in rows if r.get("engine") == engine and "sf" in r}):
            mine = [r for r in rows if r.get("engine") == engine and r.get("sf") == sf
                    and r.get("event") == "query" and r["status"] != "unsupported"]  # fmt: skip
            if mine and all(r["status"] == "ok" for r in mine):
                points.append((sf, sum((r["warm"] or {"median": r["first_s"]})["median"]
                                       for r in mine)))  # fmt: skip
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=engine)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("TPC-H scale factor")
    ax.set_ylabel("sum of warm medians over its queries (s)")
    ax.set_title("TPC-H: time against scale factor (a line ends where the engine stopped)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
