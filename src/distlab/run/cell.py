"""An engine process (``python -m distlab.run.cell MODE JOB EVENTS``): one engine's
measurements, in a process of its own.

Each engine runs in a fresh process: its memory figures are its own, its library cannot
clash with another's, and an engine that wedges can be stopped without harming the rest.
It reads an :class:`EngineJob` and appends typed events (:mod:`distlab.run.model`) to the
events file the parent follows. MODE is ``run`` (the matrix) or ``bench:KIND`` (a
benchmark cell of :mod:`distlab.bench`). The pseudo-engine ``reference`` measures the
single-process reference computations.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from distlab import registry
from distlab.contracts import TASKS, DistlabError, Engine
from distlab.procs import PeakMemory, pss_mb, stop_pids, tree
from distlab.results import library_versions
from distlab.run import repetitions
from distlab.run.faults import Fault, make_fault
from distlab.run.model import (
    BenchMeasured,
    CellFinished,
    CellRecord,
    CellStarted,
    EngineClosed,
    EngineJob,
    EngineStarted,
    Event,
    Fatal,
    Finished,
    Interrupted,
    StepChanged,
    error_line,
)
from distlab.run.recovery import EngineKeeper, fault_target, note_engine_state, restart_engine
from distlab.run.references import run_references
from distlab.stats import summarize
from distlab.workloads import create as create_workload
from distlab.workloads import workload_class
from distlab.workloads.base import RunOutput, Workload


class Events:
    def __init__(self, path: str):
        self._f = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, event: Event) -> None:
        self._f.write(event.to_json() + "\n")


def timed_run(
    wl: Workload, engine: Engine, variant: str, on_return=None
) -> tuple[RunOutput, float]:
    """One run and its wall time. A workload that times its own work (``wall_s``: the
    engine calls only, without its calibration or bookkeeping) is taken at its word;
    otherwise the whole call is the work."""
    t0 = time.perf_counter()
    try:
        out = wl.run(engine, variant)
    finally:
        wall = time.perf_counter() - t0
        if on_return is not None:
            on_return()  # also when the run raised: a fault's record ends there
    return out, (out.wall_s if out.wall_s is not None else wall)


def run_cell(engine: Engine, wl: Workload, variant: str, job: EngineJob) -> CellRecord:
    cell = CellRecord(engine.name, wl.name, variant)
    wl.golden()  # the trusted answer is computed before the memory window opens
    fault = make_fault(engine, job.kill_worker, job.kill_broker)
    if fault is not None and "error" in fault.record:
        # nothing to inject on this engine (e.g. no broker of ours): say so, run normally
        cell.fault, fault = fault.record, None
    samples: list[float] = []
    outputs: list[RunOutput] = []
    last_wall: float | None = None
    dup_before = engine.duplicates  # the engine's count runs over all cells
    extra_dup = 0  # duplicate executions the fault's task log saw beyond those
    warmup, repeats = wl.repetitions(variant, job.warmup, job.repeats)
    with PeakMemory(roots=engine.process_roots) as mem:
        i = 0
        while True:
            measured = i >= warmup
            faulted = measured and fault is not None and not fault.done
            if faulted:
                # a fault part-way through the first measured repetition
                try:
                    out, wall, extra = _faulted_run(fault, engine, wl, variant, last_wall)
                    extra_dup += extra
                    broken = fault.record.get("engine_broken")
                    if broken:
                        # the run came through, the engine did not: restart it before
                        # the next repetition (outside any timing), or fail the cell
                        restart = restart_engine(engine, broken)
                        fault.record["engine_restart"] = restart
                        if "error" in restart:
                            cell.status, cell.fault = "failed", fault.record
                            cell.error = f"{engine.name} cannot go on after the fault: {broken}"
                            return cell
                except _FaultedRunFailed as failed:
                    cell.status, cell.error = "failed", failed.error
                    cell.traceback, cell.fault = failed.traceback, failed.fault
                    cell.lost = sum(o.lost for o in outputs) + (failed.fault.get("lost") or 0)
                    cell.duplicates = (
                        sum(o.duplicates for o in outputs)
                        + engine.duplicates
                        - dup_before
                        + extra_dup
                        + failed.extra_dup
                    )
                    return cell
                cell.fault = fault.record
            else:
                try:
                    out, wall = timed_run(wl, engine, variant)
                except Exception as exc:
                    if cell.fault is None:
                        raise
                    # a repetition after the fault failed: the cell keeps the fault's record
                    cell.status, cell.error = "failed", error_line(exc)
                    cell.traceback = traceback.format_exc(limit=8)
                    if cell.fault.get("killed_pid"):
                        cell.error += (
                            f" (in a repetition after the {fault_target(cell.fault)} was killed)"
                        )
                    cell.lost = sum(o.lost for o in outputs)
                    cell.duplicates = (
                        sum(o.duplicates for o in outputs)
                        + engine.duplicates
                        - dup_before
                        + extra_dup
                    )
                    return cell
            last_wall = wall
            ok, detail = wl.verify(out, variant)
            if not ok:
                cell.status, cell.verified = "failed", False
                cell.verify_detail, cell.error = detail, f"wrong answer: {detail}"
                if faulted and cell.fault.get("killed_pid"):
                    cell.error += f" (after the {fault_target(cell.fault)} was killed)"
                cell.lost = sum(o.lost for o in outputs) + out.lost
                cell.duplicates = (
                    sum(o.duplicates for o in outputs)
                    + out.duplicates
                    + engine.duplicates
                    - dup_before
                    + extra_dup
                )
                return cell
            outputs.append(out)
            if measured and not faulted:  # the faulted run is reported on its own
                samples.append(wall)
            i += 1
            if measured and repetitions.enough(samples, repeats):
                break
    last = outputs[-1]
    cell.verified, cell.verify_detail = True, detail
    cell.wall = summarize(samples)
    cell.wall["rel_precision"] = repetitions.relative_precision(samples)
    cell.wall_s = cell.wall["median"]
    cell.n_tasks = last.n_tasks
    cell.metrics = dict(last.metrics)
    cell.work_fraction, cell.compute_s = last.work_fraction, last.compute_s
    cell.peak_mem_mb = round(mem.peak_mb, 1)
    cell.lost = sum(o.lost for o in outputs)
    cell.duplicates = (
        sum(o.duplicates for o in outputs) + engine.duplicates - dup_before + extra_dup
    )
    try:  # outside the timed region and the memory window
        cell.answer = wl.answer_record(last.result)
    except Exception as exc:  # a record that cannot be made says so; the cell stands
        cell.answer = {"error": error_line(exc)}
    return cell


class _FaultedRunFailed(Exception):
    """The faulted run raised: the cell fails with that error and keeps the fault's
    record (what was killed, when, what the engine said)."""

    def __init__(self, error: str, traceback_text: str, fault: dict[str, Any], extra_dup: int):
        super().__init__(error)
        self.error, self.traceback, self.fault, self.extra_dup = (
            error,
            traceback_text,
            fault,
            extra_dup,
        )


def _faulted_run(
    fault: Fault, engine: Engine, wl: Workload, variant: str, expected_s: float | None
) -> tuple[RunOutput, float, int]:
    """One run with the fault injected: its output, wall time, and the duplicate
    executions the task log saw beyond the duplicate results already counted."""
    dup_engine = engine.duplicates
    fault.arm(expected_s=expected_s, expect_tasks=wl.shape == TASKS)
    try:
        out, wall = timed_run(wl, engine, variant, fault.run_ended)
    except Exception as exc:
        record = fault.disarm(None)  # the watcher's wait is outside the timing
        record["run_error"] = error_line(exc)
        if "recovery_s" in record:  # it did not recover: this is how long failing took
            record["failed_after_s"] = record.pop("recovery_s")
        if record.get("killed_pid") and record.get("finished") is not None:
            # the workload could not count its lost tasks: the task log can (tasks sent
            # that no execution finished)
            record["lost"] = record["tasks"] - record["finished"]
            record["lost_counted_by"] = (
                "task log, as the run raised: tasks sent that never finished (at least: a "
                "result lost on its way back is not seen)"
            )
        seen = engine.duplicates - dup_engine
        record["duplicate_results"] = seen
        extra = max(0, (record.get("duplicated") or 0) - seen)
        if isinstance(exc, DistlabError) or record.get("killed_pid"):
            note_engine_state(engine, record)
        raise _FaultedRunFailed(
            error_line(exc), traceback.format_exc(limit=8), record, extra
        ) from exc
    record = fault.disarm(wall, lost=out.lost)
    seen = engine.duplicates - dup_engine + out.duplicates
    record["duplicate_results"] = seen
    note_engine_state(engine, record)
    return out, wall, max(0, (record.get("duplicated") or 0) - seen)


def start_engine(job: EngineJob, events: Events) -> tuple[Engine, float] | None:
    """The job's engine, started, announced; None (announced as failed) if it did not."""
    name, engine = job.engine, None
    try:
        cls = registry.engine_class(name)
        options = dict(job.options)
        if job.kill_broker and cls.needs_server and not job.address:
            # a broker that can come back with its data after --kill-broker (if the
            # engine's broker can: Redis with an append-only file)
            options.setdefault("durable_broker", True)
        engine = cls(address=job.address, workers=job.workers, **options)
        t0 = time.perf_counter()
        engine.start()
        startup = time.perf_counter() - t0
        idle = pss_mb(tree([os.getpid(), *engine.process_roots()]))
        events.emit(
            EngineStarted(
                name,
                "ok",
                startup_s=startup,
                idle_mem_mb=round(idle, 1),
                describe=engine.describe(),
                python=sys.version.split()[0],
                versions=_versions(name, engine),
            )
        )
        return engine, startup
    except BaseException as exc:
        events.emit(
            EngineStarted(
                name, "failed", error=error_line(exc), traceback=traceback.format_exc(limit=8)
            )
        )
        if engine is not None:
            close_engine(engine, events)
        if not isinstance(exc, Exception):
            raise
        return None


def run_engine(job: EngineJob, events: Events) -> None:
    started = start_engine(job, events)
    if started is None:
        return
    engine, startup = started
    name = job.engine
    keeper = EngineKeeper(engine)
    try:
        for wname in job.workloads:
            # decided from declarations first: an unsupported workload is never built
            # (its libraries may not even exist in this engine's environment)
            reason = workload_class(wname).unsupported_reason(type(engine))
            if reason:
                events.emit(
                    CellFinished(CellRecord(name, wname, "-", status="unsupported", reason=reason))
                )
                continue
            try:
                wl = create_workload(wname, job.size, **job.params.get(wname, {}))
            except Exception as exc:
                failed = CellRecord(name, wname, "default", status="failed", error=error_line(exc))
                events.emit(CellFinished(failed))
                continue
            wl.monitor = _monitor(events, name, wname)
            for variant in wl.variants(engine):
                events.emit(CellStarted(name, wname, variant))
                keeper.ensure()  # an engine that cannot go on is restarted first
                if keeper.dead:
                    cell = CellRecord(name, wname, variant, status="failed", error=keeper.dead)
                else:
                    try:
                        cell = run_cell(engine, wl, variant, job)
                    except Exception as exc:
                        cell = CellRecord(
                            name,
                            wname,
                            variant,
                            status="failed",
                            error=error_line(exc),
                            traceback=traceback.format_exc(limit=8),
                        )
                    if cell.fault is not None:
                        # the fault may have taken the engine down: restart it now, and
                        # say so in the record of the cell that broke it
                        restart = keeper.ensure()
                        if restart:
                            key = "engine_restart"
                            cell.fault[
                                "engine_restart_after_cell" if key in cell.fault else key
                            ] = restart
                cell.startup_s = startup
                events.emit(CellFinished(cell))
    finally:
        close_engine(engine, events)


def _monitor(events: Events, engine: str, workload: str):
    def monitor(step=None, state=None, seconds=None, **detail) -> None:
        events.emit(StepChanged(engine, workload, step, state, seconds, detail))

    return monitor


def close_engine(engine: Engine, events: Events) -> None:
    t0 = time.perf_counter()
    try:
        engine.close()
        events.emit(EngineClosed(engine.name, close_s=time.perf_counter() - t0))
    except BaseException as exc:
        events.emit(EngineClosed(engine.name, error=error_line(exc)))


def run_bench(kind: str, job: EngineJob, events: Events) -> None:
    from distlab import bench

    try:
        row = bench.CELLS[kind](job)
    except Exception as exc:  # the bench table shows the error in this engine's row
        row = {"engine": job.engine, "error": error_line(exc)}
    events.emit(BenchMeasured(row))


def _exit_with_parent(grace: float = 60.0) -> None:
    """If the parent (distlab run) dies, even by SIGKILL, stop: close the engine through
    the SIGTERM path, and if that hangs, stop our own descendants by PID and exit."""
    # the runner names itself: had it died before we got here, getppid() would be 1 already
    parent = int(os.environ.get("DISTLAB_PARENT_PID") or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        stop_pids([p.pid for p in tree([os.getpid()]) if p.pid != os.getpid()])
        os._exit(130)

    threading.Thread(target=watch, name="distlab-parent-watch", daemon=True).start()


def _versions(name: str, engine) -> dict[str, str]:
    """The engine's libraries and, when it started one, its server (e.g. Apache Kafka)."""
    versions = library_versions(registry.entry(name).libraries)
    if engine.server and not engine.address:
        versions["server"] = engine.server_version() or "?"
    return versions


def main(argv: list[str]) -> int:
    mode, job_path, events_path = argv
    job = EngineJob.from_json(Path(job_path).read_text())
    events = Events(events_path)

    # The parent asks us to stop with SIGTERM: unwind through the finally blocks so the
    # engine's close() stops what it started.
    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    _exit_with_parent()
    try:
        if mode.startswith("bench:"):
            run_bench(mode.removeprefix("bench:"), job, events)
        elif job.engine == "reference":
            run_references(job, events)
        else:
            run_engine(job, events)
    except KeyboardInterrupt:
        events.emit(Interrupted())
        return 130
    except DistlabError as exc:
        events.emit(Fatal(str(exc)))
        return 2
    events.emit(Finished())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
