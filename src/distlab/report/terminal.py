"""The terminal views of a results document: the summary tables `distlab run` prints and
the findings `distlab report` prints (rich tables and plain lines)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from distlab.report import figures
from distlab.report.recommend import findings

#: the sections of the findings `distlab report` prints (the rest are on the page only)
PRINTED_FINDINGS = ("winners", "shapes", "caveats")


def _fmt_s(x: float | None) -> str:
    # not figures.fmt_s: the terminal tables keep their own, coarser format (no µs)
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _speedup(x) -> str:
    if not x:
        return "-"
    # far below 1, "1/N" reads better than 5e-05
    return f"{x:.2f}x" if x >= 0.1 else f"1/{1 / x:,.0f}x"


def _spread(wall: dict | None) -> str:
    if not wall or not wall.get("n"):
        return "-"
    text = f"{_fmt_s(wall['median'])} [{_fmt_s(wall['min'])}-{_fmt_s(wall['max'])}]"
    return text + (" !" if wall.get("unstable") else "")


def _note(cell: dict) -> str:
    """The note column: why a cell did not run, unless the workload has a headline figure
    (the last that applies wins); a fault's summary after it (what was killed, lost,
    duplicated, recovery time, or why nothing was)."""
    note = cell.get("error") or cell.get("reason") or ""
    if figures.batch_size(cell):
        note = f"batch {figures.batch_size(cell)} ({figures.batch_size_chosen(cell)})"
    if figures.is_capped(cell):
        full = figures.extrapolated_full_s(cell)
        note = f"{figures.elements(cell)} elements; full size ~{_fmt_s(full)}"
    if lat := figures.latency_ms(cell):
        shown = ("p50", "p99", "p99.9")
        note = "round trip " + " ".join(
            f"{k}={v:.1f}ms" for k, v in lat.items() if v is not None and k in shown
        )
    if critical := figures.critical_path_s(cell):
        note = (
            f"retries={figures.retries(cell)}, critical path {_fmt_s(critical)}"
            f" of {_fmt_s(figures.sum_of_steps_s(cell))} in steps"
        )
    if queue := figures.measured_and_ideal_s(cell):
        note = f"measured {_fmt_s(queue[0])}, ideal ceil(N/R)*d {_fmt_s(queue[1])}"
    if events := figures.events_per_s(cell):
        note = f"{events:,.0f} events/s; " + note
    if sustained := figures.max_sustained_rate(cell):
        note = f"highest sustained {sustained:,.0f} events/s"
    if figures.has_fault(cell):  # the faulted repetition, reported apart from the times
        note = (note + " | " if note else "") + figures.fault_summary(cell)
    return note


def matrix_table(doc: dict) -> Table:
    t = Table(title="distlab results (median \\[min-max] of measured repetitions; ! = unstable)")
    for col in (
        "engine",
        "workload",
        "variant",
        "status",
        "verified",
        "time",
        "speed-up",
        "overhead/task",
        "peak MB",
        "note",
    ):
        t.add_column(col, overflow="fold")
    for c in doc["cells"]:
        status = c["status"]
        style = {"ok": "green", "failed": "red", "unsupported": "dim"}.get(status, "")
        t.add_row(
            c["engine"],
            c["workload"],
            c.get("variant", "-"),
            f"[{style}]{status}[/]",
            "yes" if c.get("verified") else "no" if status == "ok" else "-",
            _spread(c.get("wall")),
            _speedup(c.get("speedup")),
            f"{c['per_task_overhead_ms']:.2f} ms"
            if c.get("per_task_overhead_ms") is not None
            else "-",
            f"{c['peak_mem_mb']:.0f}" if c.get("peak_mem_mb") else "-",
            _note(c),
        )
    return t


def references_table(doc: dict) -> Table:
    t = Table(title="single-process references")
    for col in ("workload", "reference", "time", "verified"):
        t.add_column(col)
    for w, refs in doc.get("references", {}).items():
        for name, r in (refs or {}).items():
            if not isinstance(r, dict):
                continue
            t.add_row(
                w,
                name,
                _spread(r.get("wall")) if "wall" in r else r.get("error", "-"),
                "yes" if r.get("verified") else "no",
            )
    return t


def engines_table(doc: dict) -> Table:
    t = Table(title="engines")
    for col in ("engine", "status", "start-up", "idle MB", "settings", "error"):
        t.add_column(col, overflow="fold")
    for name, e in doc.get("engines", {}).items():
        d = e.get("describe") or {}
        t.add_row(
            name,
            e.get("status", "-"),
            _fmt_s(e.get("startup_s")),
            f"{e['idle_mem_mb']:.0f}" if e.get("idle_mem_mb") else "-",
            ", ".join(f"{k}={v}" for k, v in d.items()),
            e.get("error") or "",
        )
    return t


def print_summary(doc: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(engines_table(doc))
    console.print(references_table(doc))
    console.print(matrix_table(doc))


def finding_lines(doc: dict) -> list[str]:
    """The derived statements `distlab report` prints, one line each."""
    return [
        f"- {f.text}"
        for section, items in findings(doc).items()
        if section in PRINTED_FINDINGS
        for f in items
    ]
