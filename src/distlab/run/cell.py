"""An engine process (``python -m distlab.run.cell MODE JOB EVENTS``): one engine's
measurements, in a process of its own.

Each engine runs in a fresh process: its memory figures are its own, its library cannot
clash with another's, and an engine that wedges can be stopped without harming the rest.
It reads an :class:`EngineJob` and appends typed events (:mod:`distlab.run.model`) to the
events file the parent follows. MODE is ``run`` (benchmarks have their own engine
process, :mod:`distlab.bench.process`). The pseudo-engine ``reference`` measures the
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

from distlab import registry
from distlab.contracts import DistlabError, Engine, error_line
from distlab.procs import pss_mb, stop_pids, tree
from distlab.results import library_versions
from distlab.run.measure import run_cell
from distlab.run.model import (
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
)
from distlab.run.recovery import EngineKeeper
from distlab.run.references import run_references
from distlab.workloads import create as create_workload
from distlab.workloads import register_functions, workload_class


class Events:
    def __init__(self, path: str):
        self._f = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, event: Event) -> None:
        self._f.write(event.to_json() + "\n")


def start_engine(job: EngineJob, events: Events) -> tuple[Engine, float] | None:
    """The job's engine, started, announced; None (announced as failed) if it did not."""
    name, engine = job.engine, None
    try:
        cls = registry.engine_class(name)
        options = {**registry.preset_options(name), **job.options}
        if job.kill_broker and not job.address and registry.entry(name).declares("durable_broker"):
            # a broker that can come back with its data after --kill-broker (if the
            # engine's broker can: Redis with an append-only file)
            options.setdefault("durable_broker", True)
        engine = registry.named(cls(address=job.address, workers=job.workers, **options), name)
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
            try:
                for variant in wl.variants(engine):
                    if f"{wname}/{variant}" in job.left_out:  # the run's time budget
                        skipped = CellRecord(name, wname, variant, status="skipped")
                        skipped.reason = job.left_out[f"{wname}/{variant}"]
                        events.emit(CellFinished(skipped))
                        continue
                    why = wl.variant_unsupported(engine, variant)
                    if why:
                        unsupported = CellRecord(name, wname, variant, status="unsupported")
                        unsupported.reason = why
                        events.emit(CellFinished(unsupported))
                        continue
                    events.emit(CellStarted(name, wname, variant))
                    cell = _cell(engine, wl, variant, job, keeper)
                    cell.startup_s = startup
                    events.emit(CellFinished(cell))
            finally:
                wl.close()  # e.g. the broker its stream cells shared
    finally:
        close_engine(engine, events)


def _cell(engine: Engine, wl, variant: str, job: EngineJob, keeper: EngineKeeper) -> CellRecord:
    """One cell on an engine that can go on (restarted first if it cannot); a failure is
    the cell's record."""
    name, wname = engine.name, wl.name
    keeper.ensure()  # an engine that cannot go on is restarted first
    if keeper.dead:
        return CellRecord(name, wname, variant, status="failed", error=keeper.dead)
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
        # the fault may have taken the engine down: restart it now, and say so in the
        # record of the cell that broke it
        restart = keeper.ensure()
        if restart:
            key = "engine_restart"
            cell.fault["engine_restart_after_cell" if key in cell.fault else key] = restart
    return cell


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


def exit_with_parent(grace: float = 60.0) -> None:
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
    register_functions(job.functions)  # the user's functions, known by their names

    # The parent asks us to stop with SIGTERM: unwind through the finally blocks so the
    # engine's close() stops what it started.
    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    exit_with_parent()
    try:
        if job.engine == "reference":
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
