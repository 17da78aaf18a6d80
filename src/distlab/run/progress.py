"""The live view of `distlab run`.

``RunProgress.update`` is the progress callback of ``distlab.run.matrix.run``; it gets
the typed events of ``distlab.run.model`` (an engine started, a cell started or
finished, a workflow step changed state, references measured).

On a terminal: one line per engine (its current cell; cells done and failed; workloads
left; its time) under a line with the run's elapsed time and an estimate of the time
left, redrawn in place by rich's live display. Elsewhere (a pipe, a CI log): one line per
finished cell. Workflow steps (microscopy) get lines of their own only with ``verbose``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from distlab.console import console
from distlab.report import fault_figures
from distlab.run.model import (
    CellFinished,
    CellStarted,
    EngineClosed,
    EngineStarted,
    Event,
    Planned,
    ReferenceMeasured,
    StepChanged,
)

#: colour of a finished cell's status; any other status is dim
STATUS_COLOURS = {"ok": "green", "failed": "red"}
#: step states worth a line of their own with ``verbose``
STEP_STATES_PRINTED = ("done", "failed", "retry")


@dataclass
class EngineLine:
    name: str
    state: str = "waiting"
    current: str = ""
    ok: int = 0
    failed: int = 0
    other: int = 0
    workloads_done: set[str] = field(default_factory=set)
    #: the workload of the latest cell started
    workload: str = ""
    started: float | None = None
    ended: float | None = None

    def seconds(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class RunProgress:
    def __init__(
        self,
        engines: list[str] | None = None,
        workloads: list[str] | None = None,
        verbose: bool = False,
        live: bool | None = None,
    ):
        self.workloads = list(workloads or [])
        self.lines = {n: EngineLine(n) for n in ["reference", *(engines or [])]}
        self.verbose = verbose
        self.live = console.is_terminal if live is None else live
        self.t0 = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> RunProgress:
        self.t0 = time.monotonic()
        if self.live:
            self._live = Live(self, console=console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    # -- the estimate ------------------------------------------------------------------
    def eta_s(self, now: float) -> float | None:
        """Seconds left: the current engine's workloads left at its pace so far (or the
        finished engines' pace), and each waiting engine at the finished engines' mean."""
        done = [ln for ln in self.lines.values() if ln.state == "done" and ln.name != "reference"]
        if not done:
            return None
        per_engine = sum(ln.seconds(now) or 0 for ln in done) / len(done)
        per_workload = per_engine / max(1, len(self.workloads))
        left = 0.0
        for ln in self.lines.values():
            if ln.state == "waiting":
                left += per_engine
            elif ln.state in ("starting", "running"):
                todo = max(0, len(self.workloads) - len(ln.workloads_done))
                left += todo * per_workload
        return left

    def __rich__(self) -> Group:
        now = time.monotonic()
        eta = self.eta_s(now)
        head = Text.from_markup(
            f"[bold]distlab run[/] {_clock(now - self.t0)} elapsed"
            + (f", about {_clock(eta)} left" if eta is not None else "")
        )
        t = Table.grid(padding=(0, 2))
        for col in ("engine", "state", "cells", "time", "now"):
            t.add_column(col, no_wrap=True)
        for ln in self.lines.values():
            colour = {"done": "green", "failed": "red", "running": "cyan"}.get(ln.state, "dim")
            cells = f"[green]{ln.ok} ok[/]" + (f" [red]{ln.failed} failed[/]" if ln.failed else "")
            if self.workloads and ln.name != "reference":
                cells += f", {max(0, len(self.workloads) - len(ln.workloads_done))} workloads left"
            t.add_row(
                ln.name,
                f"[{colour}]{ln.state}[/]",
                cells if ln.name != "reference" else "",
                _clock(ln.seconds(now)),
                escape(ln.current),
            )
        return Group(head, t)

    # -- events ------------------------------------------------------------------------
    def _line(self, name: str) -> EngineLine:
        return self.lines.setdefault(name, EngineLine(name))

    def update(self, ev: Event) -> None:
        now = time.monotonic()
        if isinstance(ev, ReferenceMeasured):
            ln = self._line("reference")
            ln.started = ln.started or now
            ln.state, ln.current = "running", f"references: {ev.workload}"
            ln.workloads_done.add(ev.workload)
            if len(ln.workloads_done) >= len(self.workloads):
                ln.state, ln.ended, ln.current = "done", now, ""
        elif isinstance(ev, EngineStarted):
            self._engine_started(ev, now)
        elif isinstance(ev, CellStarted):
            ln = self._line(ev.engine)
            if ln.workload and ln.workload != ev.workload:
                ln.workloads_done.add(ln.workload)  # its variants are behind it
            ln.workload = ev.workload
            ln.state, ln.current = "running", f"{ev.workload} ({ev.variant})"
            self._finish_reference(now)
        elif isinstance(ev, CellFinished):
            self._cell_finished(ev, now)
        elif isinstance(ev, EngineClosed):
            ln = self._line(ev.engine)
            ln.workloads_done.update(self.workloads)
            ln.state = "failed" if ev.error else "done"
            ln.ended, ln.current = now, ""
        elif isinstance(ev, Planned):
            console.print(f"[dim]{escape(ev.summary)}[/]")
        elif isinstance(ev, StepChanged):
            text = f"{ev.engine}: {ev.workload} step {ev.step} {ev.state}"
            if ev.engine in self.lines:
                self.lines[ev.engine].current = f"{ev.workload}: step {ev.step} {ev.state}"
            if self.verbose and ev.state in STEP_STATES_PRINTED:
                took = f" {ev.seconds:.2f} s" if ev.seconds is not None else ""
                console.print(f"    [dim]{escape(text)}{took}[/]")

    def _finish_reference(self, now: float) -> None:
        ref = self.lines.get("reference")
        if ref is not None and ref.state in ("waiting", "running"):
            ref.state, ref.ended, ref.current = "done", ref.ended or now, ""

    def _engine_started(self, ev: EngineStarted, now: float) -> None:
        self._finish_reference(now)
        ln = self._line(ev.engine)
        ln.started = ln.started or now
        if ev.status == "ok":
            ln.state = "running"
            if not self.live:
                console.print(f"[bold]{ev.engine}[/] started in {ev.startup_s:.2f} s")
        else:
            ln.state, ln.ended = ("failed" if ev.status == "failed" else ev.status), now
            ln.workloads_done.update(self.workloads)
            console.print(f"[bold]{ev.engine}[/] [red]{ev.status}[/] {escape(ev.error or '')}")

    def _cell_finished(self, ev: CellFinished, now: float) -> None:
        cell = ev.cell
        ln = self._line(cell.engine)
        ln.started = ln.started or now
        if cell.variant == "-":  # never reached its variants (unsupported, failed early)
            ln.workloads_done.add(cell.workload)
        if cell.status == "skipped" and ln.workloads_done >= set(self.workloads):
            ln.state, ln.ended = "left out", now  # the plan left out all it would run
        if cell.status == "ok":
            ln.ok += 1
        elif cell.status == "failed":
            ln.failed += 1
        else:
            ln.other += 1
        colour = STATUS_COLOURS.get(cell.status, "dim")
        if not self.live or cell.status == "failed":
            figure = f" {cell.wall_s:.3f} s" if cell.wall_s else ""
            detail = escape(cell.error or cell.reason or "")
            console.print(
                f"  [{colour}]{cell.status:<11}[/] {cell.engine:<9} {cell.workload:<10} "
                f"{cell.variant:<12}{figure} {detail}"
            )
        if cell.fault:  # the faulted repetition, reported apart from the times
            console.print(
                f"    [dim]fault: {escape(fault_figures.fault_summary(cell))}[/]"
            )
