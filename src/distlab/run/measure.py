"""One cell's measurement: warm-up and measured repetitions of a workload on a started
engine, verified every time, with its memory, a fault when one is asked for, and the
account of where the cell's time went. Runs inside the engine's process
(distlab.run.cell)."""

from __future__ import annotations

import time
import traceback
from typing import Any

from distlab.contracts import TASKS, DistlabError, Engine, error_line
from distlab.procs import PeakMemory
from distlab.run import racing, repetitions, timeline
from distlab.run.broker_kill import BrokerKiller
from distlab.run.faults import Fault, WorkerKiller
from distlab.run.host_cut import HostCut
from distlab.run.model import CellRecord, EngineJob
from distlab.run.recovery import fault_target, note_engine_state, restart_engine
from distlab.stats import summarize
from distlab.workloads.base import RunOutput, Workload


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


def _fault_for(engine: Engine, job: EngineJob) -> Fault | None:
    """The fault the job asks for (one at most: the matrix refuses combinations)."""
    if job.cut_host:
        return HostCut(engine)
    if job.kill_broker:
        return BrokerKiller(engine)
    if job.kill_worker:
        return WorkerKiller(engine)
    return None


def run_cell(engine: Engine, wl: Workload, variant: str, job: EngineJob) -> CellRecord:
    """One cell, with the account of where its time went (CellRecord.time_spent)."""
    clock = _CellClock()
    cell = _run_cell(engine, wl, variant, job, clock)
    cell.time_spent = clock.account()
    return cell


class _CellClock:
    """Where a cell's time goes: warm-up runs, measured runs (whole), the rest."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.spent = {"warmup": 0.0, "measured": 0.0}
        self.runs = {"warmup": 0, "measured": 0}

    def add(self, kind: str, seconds: float) -> None:
        self.spent[kind] += seconds
        self.runs[kind] += 1

    def account(self) -> dict[str, Any]:
        total = time.perf_counter() - self.t0
        other = max(0.0, total - sum(self.spent.values()))
        spent = {k: round(v, 3) for k, v in self.spent.items()}
        return {**spent, "other": round(other, 3), "total": round(total, 3), "runs": self.runs}


def _run_cell(
    engine: Engine, wl: Workload, variant: str, job: EngineJob, clock: _CellClock
) -> CellRecord:
    cell = CellRecord(engine.name, wl.name, variant, workers=engine.workers)
    wl.golden()  # the trusted answer is computed before the memory window opens
    fault = _fault_for(engine, job)
    if fault is not None and "error" in fault.record:
        # nothing to inject on this engine (e.g. no broker of ours): say so, run normally
        cell.fault, fault = fault.record, None
    samples: list[float] = []
    full: list[float] = []  # the same repetitions, each for the full workload
    outputs: list[RunOutput] = []
    last_wall: float | None = None
    dup_before = engine.duplicates  # the engine's count runs over all cells
    extra_dup = 0  # duplicate executions the fault's task log saw beyond those
    warmup, repeats = wl.repetitions(variant, job.warmup, job.repeats)
    if engine.jobs_start_fresh or wl.warm(engine, variant):
        # nothing a warm-up run does carries over to the next job, or the run just
        # before did all it would
        warmup = 0
    if fault is not None:
        # the fault lands mid-run: it needs the engine's workers up and a run's length
        # to aim at, which a warm-up run gives
        warmup = max(warmup, 1)
    longest = 0.0  # the longest run so far, the warm-up included
    with PeakMemory(roots=engine.process_roots) as mem:
        i = 0
        while True:
            measured = i >= warmup
            faulted = measured and fault is not None and not fault.done
            run_started = time.perf_counter()
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
            clock.add("measured" if measured else "warmup", time.perf_counter() - run_started)
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
                full.append(racing.full_value(wall, out.work_fraction, out.metrics))
            i += 1
            longest = max(longest, time.perf_counter() - run_started)
            rival = job.rivals.get(racing.key(wl.name, variant))
            ranked = job.race and outputs[-1].work_fraction is not None
            if measured and racing.enough(samples, full, repeats, longest, ranked, rival):
                break
    last = outputs[-1]
    cell.verified, cell.verify_detail = True, detail
    cell.wall = summarize(samples)
    cell.wall["rel_precision"] = repetitions.relative_precision(samples)
    if samples:  # what the interval behind rel_precision covers: 50% from 2 runs
        cell.wall["median_coverage"] = round(repetitions.median_ci(samples).coverage, 4)
    cell.wall_s = cell.wall["median"]
    cell.n_tasks = last.n_tasks
    cell.metrics = dict(last.metrics)
    if full != samples:
        # each repetition for the full workload (a capped run's own extrapolation, or its
        # time over its share of the work): what ranks the cell
        cell.metrics["full_samples_s"] = full
    cell.work_fraction, cell.compute_s = last.work_fraction, last.compute_s
    cell.peak_mem_mb = round(mem.peak_mb, 1)
    cell.lost = sum(o.lost for o in outputs)
    cell.duplicates = (
        sum(o.duplicates for o in outputs) + engine.duplicates - dup_before + extra_dup
    )
    if job.timeline and timeline.can_record(engine, wl):
        # an extra repetition, not ranked, after the memory window
        cell.timeline = timeline.record(engine, wl, variant, samples, timed_run)
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
