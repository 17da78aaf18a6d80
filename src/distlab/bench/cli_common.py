"""What the `distlab bench ...` commands share: their common options, and recording a
bench's cells in the history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distlab.console import console

# options every bench takes
Workers = Annotated[int | None, typer.Option(help="Workers per engine.")]
Addresses = Annotated[list[str] | None, typer.Option(help="ENGINE=ADDRESS; repeatable.")]
Out = Annotated[Path | None, typer.Option(help="Also write the figures to this JSON file.")]
#: the benches whose figures `distlab report DIR` adds to the page
ReportOut = Annotated[
    Path | None,
    typer.Option(
        help="Also write the figures as JSON: a file, or a directory (its bench-NAME.json, "
        "which `distlab report` of that directory shows)."
    ),
]


def history_path(history: str | None) -> Path | None:
    """The history file (None: off); a directory is one line, before anything is measured."""
    from distlab.results import history as history_store

    return history_store.prepare(history_store.resolve(history))


def record(kind: str, rows: list[dict], params: dict, history_path: Path | None) -> None:
    """Append a bench's measured cells to the history, saying where (nothing when off)."""
    from distlab.bench.runner import speed_figure
    from distlab.report.history_cells import record_bench

    speed_s = speed_figure()["seconds"] if history_path is not None else None
    recorded = record_bench(kind, rows, params, history_path, speed_s)
    if recorded:
        console.print(f"[dim]history: {recorded} cells appended to {history_path}[/]")
