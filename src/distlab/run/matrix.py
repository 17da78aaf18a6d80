"""The matrix: engines x workloads x variants x repetitions, each engine in its own process.

One failing cell never aborts the matrix: errors are recorded per cell. The parent
validates everything it can before starting anything (unknown names, sizes, unreachable
addresses fail in seconds with one line), follows each engine process's events for
progress and results, and on timeout or Ctrl-C stops the engine process and everything
under it by PID. Nothing here knows any engine by name: addresses are checked by the
engine's own ``check_address``, interpreters come from the registry.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from distlab import machine_speed, needs, registry, results
from distlab.contracts import DistlabError
from distlab.run import budget, on_hosts, racing
from distlab.run.launcher import EngineProcess, interpreter_for
from distlab.run.model import (
    CellFinished,
    CellRecord,
    CellStarted,
    EngineClosed,
    EngineJob,
    EngineStarted,
    Event,
    Fatal,
    Planned,
    ReferenceMeasured,
    RunSpec,
)
from distlab.run.stream_broker import run_stream_broker, with_stream_broker
from distlab.run.validate import validate
from distlab.workloads import workload_class

__all__ = ["RunSpec", "run"]

ProgressFn = Callable[[Event], None]


class _Matrix:
    """The results document being built, and the typed cell records behind it."""

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.doc = results.new(sys.argv, spec.settings())
        self.cells: list[CellRecord] = []
        #: engine -> the cell it started and has not reported yet
        self.open: dict[str, CellStarted] = {}
        #: with several worker counts: the cells of the smaller ones (the scaling curve)
        self.smaller: list[CellRecord] = []
        #: the run planned to its time budget (made once the machine's speed is known)
        self.plan: budget.Plan | None = None
        #: cells of workloads whose libraries are not installed: the matrix's last rows
        self.lacking: list[CellRecord] = []

    def absorb(self, ev: Event, name: str) -> None:
        doc = self.doc
        if isinstance(ev, ReferenceMeasured):
            runs = {n: results.codec.convert(r, results.Reference, f"$.references.{n}")
                    for n, r in (ev.references or {}).items()}  # fmt: skip
            doc.references[ev.workload] = results.WorkloadReferences(runs, ev.error)
        elif isinstance(ev, EngineStarted):
            started = {k: v for k, v in vars(ev).items() if k != "engine"}
            doc.engines[name] = results.EngineRecord(**started)
        elif isinstance(ev, EngineClosed):
            record = doc.engine(name)
            if ev.close_s is not None:
                record.close_s = ev.close_s
            if ev.error is not None:
                record.error = ev.error
        elif isinstance(ev, CellStarted):
            self.open[name] = ev
        elif isinstance(ev, CellFinished):
            self.cells.append(ev.cell)
            started = self.open.get(name)
            if started is not None and (started.workload, started.variant) == (
                ev.cell.workload,
                ev.cell.variant,
            ):
                del self.open[name]
        elif isinstance(ev, Fatal):
            record = doc.engine(name)
            record.status, record.error = "failed", ev.error

    def left_out(self, plan: budget.Plan) -> list[CellRecord]:
        """What the plan left out to fit the time budget, as cells: whole engines and
        whole workloads here (a left-out variant is skipped by the engine process, which
        knows the variants); recorded, never silently missing."""
        reason = budget.LEFT_OUT_REASON
        cells = []
        for engine in self.spec.engines:
            for w in self.spec.workloads:
                if engine in plan.engines_left_out or w in plan.rows_left_out:
                    cells.append(CellRecord(engine, w, status="skipped", reason=reason))
        self.cells += cells
        if plan.left_out:
            self.doc.left_out = results.LeftOut(list(plan.left_out), plan.summary())
        return cells

    def lacking_libraries(self) -> list[CellRecord]:
        """The workloads this installation lacks the libraries of (an install without
        their extra), as unsupported cells on every engine with the command that installs
        them; the spec keeps only the others, so that nothing tries to run them."""
        cells, kept = [], []
        for w in self.spec.workloads:
            why = workload_class(w).missing_libraries()
            kept += [] if why else [w]
            cells += [CellRecord(e, w, status="unsupported", reason=why)
                      for e in self.spec.engines if why]  # fmt: skip
        self.spec = replace(self.spec, workloads=kept)
        self.lacking = cells
        return cells

    def engine_unavailable(self, name: str) -> None:
        hint = registry.entry(name).install_hint
        self.doc.engines[name] = results.EngineRecord("unavailable", error=f"not installed: {hint}")
        for w in self.spec.workloads:
            reason = f"not installed ({hint})"
            self.cells.append(CellRecord(name, w, status="unsupported", reason=reason))

    def missing_cells_failed(self, name: str, reason: str | None = None) -> None:
        """Cells that never reported (crash, timeout) are failed, not silently missing:
        the variant that started and never finished, with ``reason``; a workload that
        never started at all, with the engine's error."""
        started = self.open.pop(name, None)
        if started is not None:
            error = reason or "the engine process ended during this cell without reporting it"
            self.cells.append(
                CellRecord(name, started.workload, started.variant, status="failed", error=error)
            )
        for w in self.spec.workloads:
            if not any(c.engine == name and c.workload == w for c in self.cells):
                record = self.doc.engines.get(name)
                err = (record and record.error) or "engine process ended early"
                self.cells.append(CellRecord(name, w, status="failed", error=err))

    def interrupted(self) -> None:
        """Ctrl-C: the cell that was running is dropped (it did not finish), and the
        document says the run was interrupted and where."""
        self.doc.interrupted = results.Interruption(
            [f"{ev.engine}: {ev.workload} ({ev.variant})" for ev in self.open.values()],
            len(self.cells),
        )
        self.open.clear()

    def finish(self) -> results.Results:
        """Derived figures (speed-up against the sequential reference, overhead per task),
        then the document with every cell serialised."""
        for cell in self.cells + self.smaller:
            _derive(cell, self.doc)
        self.doc.cells = list(self.cells + self.lacking)
        if self.spec.worker_counts:
            self.doc.scaling = results.Scaling(
                sorted(self.spec.worker_counts), self.smaller + self.cells
            )
        return self.doc


def _derive(cell: CellRecord, doc: results.Results) -> None:
    refs = doc.references.get(cell.workload) or results.WorkloadReferences()
    seq = _median(refs.runs.get("sequential"))
    wall, share = cell.wall_s, cell.work_fraction
    if not (seq and wall) or share is None:  # paced runs: no speed-up to speak of
        return
    cell.speedup = seq * share / wall
    # the work itself: what the workload says it is (e.g. its sleeps), else the reference
    work = cell.compute_s if cell.compute_s is not None else seq * share
    numpy_ref = _median(refs.runs.get("numpy"))
    if numpy_ref:
        cell.speedup_vs_numpy = numpy_ref * share / wall
    engine = doc.engines.get(cell.engine)
    workers = cell.workers or ((engine and engine.describe) or {}).get("workers")
    if cell.n_tasks and workers:
        # worker-time per task beyond the work itself
        cell.per_task_overhead_ms = (wall * workers - work) / cell.n_tasks * 1e3


def _median(ref: results.Reference | None) -> float | None:
    return ((ref and ref.wall) or {}).get("median")


def run(
    spec: RunSpec, out_dir: Path, progress: ProgressFn = lambda e: None, checked: bool = False
) -> results.Results:
    """Run the matrix; write and return the results document (``checked``: the caller has
    validated ``spec`` already)."""
    if not checked:
        validate(spec)
    matrix = _Matrix(spec)
    for cell in matrix.lacking_libraries():
        progress(CellFinished(cell))
    spec = matrix.spec
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    path = out_dir / "results.json"
    # before anything starts: the machine's speed, undisturbed by the engines, and the
    # run planned to its time budget with it
    speed = machine_speed.measure()
    matrix.doc.environment.speed = results.Speed(**speed)
    plan = matrix.plan = budget.plan(spec, speed["seconds"], spec.budget_s)
    matrix.doc.plan = results.Plan(**plan.to_dict())
    progress(Planned(plan.summary()))
    spec = budget.applied(spec, plan)
    for cell in matrix.left_out(plan):
        progress(CellFinished(cell))
    started = time.perf_counter()
    timing = matrix.doc.timing = results.Timing()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="distlab-") as tmp,
            on_hosts.hosts_for_run(spec),
            run_stream_broker(spec) as stream_broker,
        ):
            for name in ["reference", *spec.engines]:
                t0 = time.perf_counter()
                try:
                    for count in _counts(spec, name):
                        # the smaller counts first: the largest leaves the engine's record
                        before = len(matrix.cells)
                        _run_engine(name, replace(spec, workers=count), matrix, progress, logs,
                                    Path(tmp), stream_broker)  # fmt: skip
                        if count != max(spec.worker_counts or [count]):
                            matrix.smaller += matrix.cells[before:]
                            del matrix.cells[before:]
                finally:
                    timing.engines[name] = round(time.perf_counter() - t0, 3)
                    timing.total_s = round(time.perf_counter() - started, 3)
                results.save(matrix.finish(), path)
    except KeyboardInterrupt:
        # Ctrl-C: the engine process was stopped; keep what finished and say so
        matrix.interrupted()
    # the file holds every engine, also one that never got a process of its own
    doc = matrix.finish()
    results.save(doc, path)
    return doc


def _counts(spec: RunSpec, name: str) -> list[int | None]:
    """The worker counts an engine runs at (the reference runs once: it has no workers)."""
    if not spec.worker_counts or name == "reference":
        return [spec.workers]
    return sorted(spec.worker_counts)


def racing_on(spec: RunSpec) -> bool:
    """Whether the engines race (run/racing.py): not at the tests' size, whose cells are
    smoke, not a verdict (a race would add up to 4 s of repetitions to each of them)."""
    return spec.race and spec.size != "tiny"


def _run_engine(
    name: str,
    spec: RunSpec,
    matrix: _Matrix,
    progress: ProgressFn,
    logs: Path,
    tmp: Path,
    stream_broker: dict[str, Any] | None = None,
) -> None:
    if name != "reference" and not registry.entry(name).installed():
        matrix.engine_unavailable(name)
        progress(EngineStarted(name, "unavailable"))
        return
    plan = matrix.plan
    left_out = set(plan.rows_left_out if plan else [])
    left_out |= {c.workload for c in matrix.cells if c.engine == name and c.status == "skipped"}
    workloads = [w for w in spec.workloads if w not in left_out]
    if name != "reference" and not workloads:
        return  # everything it would run was left out to fit the budget
    job = EngineJob(
        **{
            **spec.measuring(),
            "params": with_stream_broker(name, spec, spec.params, stream_broker),
            "race": racing_on(spec),
        },
        engine=name,
        workloads=workloads,
        address=spec.addresses.get(name),
        # the engine's options, then its settings preset's own (rq, then rq:at_least_once)
        options={
            **spec.options.get(registry.split_name(name)[0], {}),
            **spec.options.get(name, {}),
        },
        # the best times so far on each piece of work: this engine's cells race them
        rivals=racing.rivals(matrix.cells) if racing_on(spec) else {},
        left_out=budget.left_out_rows(plan) if plan else {},
    )
    try:
        if name != "reference":  # the JVM parts fetched here, where their line is seen
            needs.prepare(name, workloads, spec.addresses.get(name))
        python = interpreter_for(name)
    except DistlabError as exc:  # e.g. no Java, Flink's environment could not be built
        matrix.doc.engines[name] = results.EngineRecord("failed", error=str(exc))
        if name != "reference":
            matrix.missing_cells_failed(name)
        return
    if not spec.hosts or name == "reference":
        _follow(EngineProcess(job, tmp, python), matrix, progress, logs)
        return
    with on_hosts.deployed(name, spec, matrix.cells) as dep:
        if dep is None:
            return
        job.address = dep.address
        job.options = {**job.options, **dep.options}
        for workload, params in dep.params.items():
            job.params = {**job.params, workload: {**job.params.get(workload, {}), **params}}
        _follow(EngineProcess(job, tmp, python, wrap=dep.driver.command([])), matrix,
                progress, logs)  # fmt: skip
        matrix.doc.engine(name).hosts = results.Deployment(**dep.record())


def _follow(ep: EngineProcess, matrix: _Matrix, progress: ProgressFn, logs: Path) -> None:
    timeout = matrix.spec.cell_timeout
    last_event = time.monotonic()
    stalled = None
    try:
        while True:
            events = ep.new_events()
            for ev in events:
                last_event = time.monotonic()
                matrix.absorb(ev, ep.name)
                progress(ev)
            if ep.proc.poll() is not None and not events:
                for ev in ep.new_events():
                    matrix.absorb(ev, ep.name)
                    progress(ev)
                break
            if time.monotonic() - last_event > timeout:
                stalled = f"no progress for {timeout:g} s: stopped"
                matrix.doc.engine(ep.name).error = stalled
                ep.stop()
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        ep.stop()
        raise
    finally:
        ep.stop(grace=20.0)
        try:
            (logs / ep.log_path.name).write_bytes(ep.log_path.read_bytes())
        except OSError:
            pass
    code = ep.proc.returncode
    ended = f"the engine process {_exit_text(code)}"
    if code not in (0, None) and ep.name not in matrix.doc.engines:
        matrix.doc.engines[ep.name] = results.EngineRecord("failed", error=ended)
    elif code not in (0, None) and not stalled and matrix.doc.engines[ep.name].error is None:
        matrix.doc.engines[ep.name].error = ended
    if ep.name != "reference":
        reason = f"{stalled} during this cell" if stalled else f"{ended} during this cell"
        matrix.missing_cells_failed(ep.name, reason)


def _exit_text(code: int | None) -> str:
    """'exited with 1', 'exited with -9 (SIGKILL)': how an engine process ended."""
    if code is None:
        return "did not end"
    text = f"exited with {code}"
    if code < 0:
        try:
            text += f" ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return text
