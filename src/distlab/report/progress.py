"""The live view of `distlab run`: one line per event while the engines run.

``RunProgress.update`` is the progress callback of ``distlab.run.matrix.run``; it gets
the typed events of ``distlab.run.model`` (an engine started, a cell started or
finished, a workflow step changed state, references measured) and prints through the
shared console, with a rich status spinner on a terminal.
"""

from __future__ import annotations

from rich.markup import escape

from distlab.console import console
from distlab.report import figures
from distlab.run.model import (
    CellFinished,
    CellStarted,
    EngineStarted,
    Event,
    ReferenceMeasured,
    StepChanged,
)

#: colour of a finished cell's status; any other status is dim
STATUS_COLOURS = {"ok": "green", "failed": "red"}
#: step states worth a line of their own (cached and running steps: the status line only)
STEP_STATES_PRINTED = ("done", "failed", "retry")


class RunProgress:
    def __enter__(self) -> RunProgress:
        self._status = console.status("starting")
        self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.__exit__(*exc)

    def update(self, ev: Event) -> None:
        if isinstance(ev, CellStarted):
            self._status.update(f"{ev.engine}: {ev.workload} ({ev.variant}) ...")
        elif isinstance(ev, CellFinished):
            cell = ev.cell
            colour = STATUS_COLOURS.get(cell.status, "dim")
            figure = f" {cell.wall_s:.3f} s" if cell.wall_s else ""
            detail = cell.error or cell.reason or ""
            console.print(
                f"  [{colour}]{cell.status:<11}[/] {cell.engine:<9} {cell.workload:<10} "
                f"{cell.variant:<12}{figure} {detail}"
            )
            if cell.fault:  # the faulted repetition, reported apart from the times
                console.print(f"    [dim]fault: {escape(figures.fault_summary(cell.to_dict()))}[/]")
        elif isinstance(ev, EngineStarted):
            if ev.status == "ok":
                console.print(f"[bold]{ev.engine}[/] started in {ev.startup_s:.2f} s")
            else:
                console.print(f"[bold]{ev.engine}[/] [red]{ev.status}[/] {ev.error or ''}")
        elif isinstance(ev, StepChanged):
            # live monitoring of workflow steps (e.g. microscopy): state and timing
            text = f"{ev.engine}: {ev.workload} step {ev.step} {ev.state}"
            self._status.update(text)
            if ev.state in STEP_STATES_PRINTED:
                took = f" {ev.seconds:.2f} s" if ev.seconds is not None else ""
                console.print(f"    [dim]{text}{took}[/]")
        elif isinstance(ev, ReferenceMeasured):
            self._status.update(f"references: {ev.workload}")
