"""The terminal views of a results document: the summary `distlab run` prints at its end
(distlab.report.glance in a 100-column table) and the findings `distlab report` prints."""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from distlab import machine_speed
from distlab.report.figures import label
from distlab.report.glance import GlanceRow, glance
from distlab.report.html_tables import short_line
from distlab.report.recommend import findings
from distlab.report.timeline_tables import split_table
from distlab.report.verdict import headline
from distlab.report.worker_death import death_tables

#: the sections of the findings `distlab report` prints (the rest are on the page only)
PRINTED_FINDINGS = ("winners", "shapes", "caveats")


#: the colour of a figure by its class (distlab.report.glance.ratio_class)
CLASS_STYLES = {
    "r1": "bold green",
    "r2": "green",
    "r3": "yellow",
    "r4": "dark_orange",
    "r5": "red",
    "failed": "bold white on red",
    "unverified": "bold white on red",
    "lost": "bold white on red",
    "n/a": "dim",
}
#: the widest the end-of-run summary may be (within a 100-column terminal)
SUMMARY_WIDTH = 99


def _short_row_label(row: GlanceRow) -> str:
    unit = {"overhead": " +rt", "p99": " p99", "rate": " max", "faults": " lost"}.get(row.kind, "")
    variant = "" if row.variant in ("-", "default") else f" {_cut(row.variant, 8)}"
    return f"{_cut(row.workload, 10)}{variant}{unit}"


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def glance_table(doc: dict) -> Table:
    """Workloads as rows, engines as columns, each cell its row's figure coloured by its
    distance from the best; * marks a winner the spread separates; failures in red."""
    engines, rows = glance(doc)
    t = Table(
        title="distlab: the figure that matters per row (* = ahead of the runner-up at 95%)",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),  # one space between columns: nine engines fit in 99
        pad_edge=False,
        show_edge=False,
    )
    t.add_column("work", no_wrap=True, max_width=20)
    for name in engines:
        t.add_column(_cut(name, 9), justify="right", no_wrap=True, max_width=9)
    for row in rows:
        cells = []
        for name in engines:
            gc = row.cells[name]
            # "lost 8 of 10" as "lost8/10": nine columns of nine characters fit in 99
            text = re.sub(r"lost (≥?\d+) of (\d+)", r"lost\1/\2", gc.text)
            text += "*" if gc.winner else ""
            style = CLASS_STYLES.get(gc.css, "")
            cells.append(f"[{style}]{escape(text)}[/]" if style else escape(text))
        t.add_row(_short_row_label(row), *cells)
    return t


def print_summary(doc: dict, console: Console | None = None) -> None:
    """The end-of-run summary: the glance table, a legend, the headline recommendation."""
    console = console or Console()
    width = min(console.width, SUMMARY_WIDTH)
    console.print(glance_table(doc), width=width)
    console.print(
        "[dim]rows: time = median time; +rt = round trip beyond the job (p50); p99 = p99 "
        "latency at the offered rate; max = highest sustained events/s; lost = lost + "
        "duplicated under the fault; ~ = one run or a spread over 10%. Colour: distance "
        "from the row's best, from the end of its range nearer the best; * = ahead of the "
        "runner-up at 95% confidence.[/]",
        width=width,
    )
    _engines, rows = glance(doc)
    console.print(headline(rows), markup=False, highlight=False, width=width)
    console.print(f"[dim]{escape(machine_speed.text(doc.environment.speed))}[/]", width=width)
    plan = doc.plan.summary if doc.plan else None
    if plan:
        took = doc.timing.total_s if doc.timing else None
        took_text = f"; it took {took:.0f} s" if took else ""
        console.print(f"[dim]{escape(plan)}{took_text}[/]", width=width)
    split = split_table(doc)
    if split is not None:
        console.print(split)
    for table in death_tables(doc.cells):
        console.print(table)  # wider than the summary: what became of each victim's task
    failed = [c for c in doc.cells if c.status == "failed"]
    if failed:
        first = failed[0]
        console.print(
            f"[red]{len(failed)} cell(s) failed[/], e.g. {escape(first.engine)} / "
            f"{escape(label(first))}: {escape(short_line(first.error or ''))}",
            width=width,
        )
    if doc.interrupted:
        console.print("[yellow]interrupted: these are the cells that finished[/]", width=width)


def finding_lines(doc: dict) -> list[str]:
    """The derived statements `distlab report` prints, one line each."""
    return [
        f"- {f.text}"
        for section, items in findings(doc).items()
        if section in PRINTED_FINDINGS
        for f in items
    ]
