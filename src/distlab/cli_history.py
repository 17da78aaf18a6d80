"""`distlab history`: a cell's medians over time, and its steps beyond noise.

Reads the history that every `distlab run` and `distlab bench ...` appends to
(distlab.results.history); the series and their judgement are in distlab.report.history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distlab.cli_options import History
from distlab.console import console, print_plain
from distlab.contracts import DistlabError


def history_cmd(
    history: History = None,
    engine: Annotated[str | None, typer.Option(help="Only this engine (or bench row).")] = None,
    workload: Annotated[
        str | None, typer.Option(help="Only this workload, or bench (e.g. tiny-tasks).")
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="Only this variant (a bench's: e.g. adapter, native).")
    ] = None,
    regressions: Annotated[
        bool,
        typer.Option(
            "--regressions",
            help="Flag the steps beyond noise in each series and the version changes "
            "that came with them.",
        ),
    ] = False,
    threshold: Annotated[
        float, typer.Option(help="Relative change of level that counts (0.10 = 10%).")
    ] = 0.10,
    alpha: Annotated[float, typer.Option(help="False discovery rate of the steps called.")] = 0.05,
) -> None:
    """A cell's medians over time, with versions and the machine's speed figure; with
    --regressions, its steps beyond noise."""
    from distlab.report import history as hist
    from distlab.report import history_tables as show
    from distlab.results import history as history_store

    path = history_store.resolve(history)
    if path is None:
        raise DistlabError("--history none: there is no history to read")
    points = history_store.load(path, engine, workload, variant)
    if not points:
        raise DistlabError(_no_cells(path, engine, workload, variant))
    if regressions:
        verdicts = hist.regressions(points, threshold=threshold, alpha=alpha)
        if not verdicts:
            raise DistlabError(
                f"{path}: every matching series has a single entry; nothing to compare yet"
            )
        console.print(show.regressions_table(verdicts, threshold, alpha))
        for line in show.regression_lines(verdicts):
            print_plain(line)
        return
    for series in hist.series_of(points):
        console.print(show.series_table(series))


def _no_cells(path: Path, engine: str | None, workload: str | None, variant: str | None) -> str:
    """One line: what was asked, and what the history has instead."""
    from distlab.results import history as history_store

    asked = [f"{k} {v}" for k, v in (("engine", engine), ("workload", workload),
                                     ("variant", variant)) if v is not None]  # fmt: skip
    every = history_store.load(path)
    if not every:
        return f"{path} holds no cells yet"
    engines = sorted({p.entry.engine for p in every})
    workloads = sorted({p.entry.workload for p in every})
    return (
        f"no cell of {', '.join(asked)} in {path}; it has engines {', '.join(engines)} "
        f"and workloads {', '.join(workloads)}"
    )
