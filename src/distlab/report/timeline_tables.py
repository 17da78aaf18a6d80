"""Where each task's time goes (``distlab run --timeline``): per cell, the overhead split
(dispatch, run, return, in line; p50 and p99), each worker's idle time, and what recording
the timeline cost, as a terminal table and the report's section. The task stream and the
stacked bars are plots (report/plots/task_stream.py)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from distlab.report.figures import label
from distlab.report.html_tables import e

#: how each phase is named in the tables and plots
PHASE_TEXT = {
    "queued": "queued (its worker busy)",
    "dispatch": "dispatch (to start, worker free)",
    "run": "run (on the worker)",
    "return": "return (end → taken)",
    "in_line": "in line (behind earlier results)",
}


def timeline_cells(doc: Any) -> list[Any]:
    return [c for c in doc.cells if c.timeline]


def cost_text(cost: dict[str, Any] | None) -> str:
    """'+3.1% (ranked runs 0.97–1.04)': the recorded repetition against the ranked median."""
    if not cost or cost.get("ratio") is None:
        return "-"
    ratio = cost["ratio"]
    spread = (
        f" (ranked runs {cost['ranked_low']:.2f}–{cost['ranked_high']:.2f})"
        if cost.get("ranked_n", 0) > 1
        else ""
    )
    return f"{(ratio - 1) * 100:+.1f}%{spread}"


def idle_text(timeline: dict[str, Any]) -> str:
    """Each worker's idle share of the recorded window, smallest to largest."""
    window = timeline.get("window_s") or 0
    if window <= 0:
        return "-"
    shares = sorted(w["idle_s"] / window for w in timeline["workers"].values())
    return " ".join(f"{s:.0%}" for s in shares)


def _ms(split: dict[str, Any], phase: str) -> str:
    p = split.get(phase)
    return f"{p['p50_ms']:.2f} / {p['p99_ms']:.2f}" if p else "-"


def split_table(doc: Any) -> Table | None:
    """The terminal's table: one row per cell with a timeline."""
    cells = timeline_cells(doc)
    if not cells:
        return None
    table = Table(title="Where each task's time went (ms, p50 / p99; recorded repetition)")
    for head in ("engine", "work", "tasks", *("queued", "dispatch", "run", "return", "in line"),
                 "worker idle", "recording cost"):  # fmt: skip
        table.add_column(head, justify="left" if head in ("engine", "work") else "right")
    for c in cells:
        t = c.timeline
        if not t.get("available"):
            table.add_row(c.engine, label(c), *["-"] * 7, t.get("reason", ""))
            continue
        s = t["split"]
        table.add_row(
            c.engine, label(c), str(t["tasks_recorded"]),
            *(_ms(s, p) for p in ("queued", "dispatch", "run", "return", "in_line")),
            idle_text(t), cost_text(t.get("cost")),
        )  # fmt: skip
    return table


def timeline_html(doc: Any) -> str:
    cells = timeline_cells(doc)
    if not cells:
        return ""
    head = "".join(
        f"<th>{e(x)}</th>"
        for x in (
            "engine",
            "work",
            "tasks",
            *PHASE_TEXT.values(),
            "worker idle",
            "recording cost",
        )  # fmt: skip
    )
    body = ""
    for c in cells:
        t = c.timeline
        if not t.get("available"):
            body += (
                f"<tr><td>{e(c.engine)}</td><td>{e(label(c))}</td>"
                f"<td colspan='8'>timeline unavailable: {e(t.get('reason', ''))}</td></tr>"
            )
            continue
        s = t["split"]
        body += (
            f"<tr><td>{e(c.engine)}</td><td>{e(label(c))}</td>"
            f"<td class='num'>{t['tasks_recorded']}</td>"
            + "".join(f"<td class='num'>{e(_ms(s, p))}</td>" for p in PHASE_TEXT)
            + f"<td class='num'>{e(idle_text(t))}</td>"
            f"<td class='num'>{e(cost_text(t.get('cost')))}</td></tr>"
        )
    return (
        "<section id='timeline-section'><h2>Where each task's time goes</h2>"
        "<p class='small'>From one extra repetition per cell with every task recorded "
        "(never a ranked one): submitted and taken on the driver, started and ended on the "
        "worker, all on one clock. Milliseconds, p50 / p99 over the cell's tasks. A task is "
        "queued while the worker that runs it is busy with an earlier one; dispatch is the "
        "engine's own delay after that. The caller "
        "takes results in order, so a task that ended while an earlier one was still awaited "
        "waits in line; only the rest is its return. Worker idle: each worker's share of the "
        "window from the first submit to the last result taken with no task running. "
        "Recording cost: the recorded repetition's time against the ranked median, with the "
        "ranked repetitions' own range beside it (a cost inside that range is noise).</p>"
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        "</table></div></section>"
    )
