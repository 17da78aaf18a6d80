"""One engine's measurements, run in a process of its own (``python -m distlab.cell``).

Each engine runs in a fresh process: its memory figures are its own, its library cannot
clash with another's, and an engine that wedges can be stopped without harming the
rest. The process reads a JSON spec and appends one JSON event per line to an events
file that the parent (distlab.runner) follows for progress and results.

The pseudo-engine ``reference`` measures the single-process reference computations.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from distlab import registry
from distlab.contracts import DistlabError
from distlab.procs import PeakMemory, rss_mb, stop_pids, tree
from distlab.results import library_versions
from distlab.stats import summarize
from distlab.workloads import create as create_workload
from distlab.workloads import workload_class
from distlab.workloads.base import RunOutput


class Events:
    def __init__(self, path: str):
        self._f = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, event: str, **data: Any) -> None:
        self._f.write(json.dumps({"event": event, **data}, default=str) + "\n")


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def run_references(spec: dict, events: Events) -> None:
    for name in spec["workloads"]:
        try:
            wl = create_workload(name, spec["size"], **spec.get("params", {}).get(name, {}))
            refs = wl.references()
        except Exception as exc:
            events.emit("reference", workload=name, error=_error_line(exc))
            continue
        out: dict[str, Any] = {}
        for ref_name, fn in refs.items():
            try:
                samples, result = [], None
                reps = wl.reference_repeats if ref_name == "sequential" else max(3, spec["repeats"])
                for _ in range(reps):
                    t0 = time.perf_counter()
                    result = fn()
                    samples.append(time.perf_counter() - t0)
                ok, detail = wl.verify(RunOutput(result))
                out[ref_name] = {"wall": summarize(samples), "verified": ok, "detail": detail}
            except Exception as exc:
                out[ref_name] = {"error": _error_line(exc)}
        events.emit("reference", workload=name, references=out)


def _kill_one_worker(engine, delay: float, record: dict) -> threading.Timer:
    def kill():
        pids = engine.worker_pids()
        if not pids:
            record["error"] = "the engine reported no worker process to kill"
            return
        pid = pids[0]
        try:
            os.kill(pid, signal.SIGKILL)
            record.update(killed_pid=pid, at_s=round(delay, 3))
        except OSError as exc:
            record["error"] = f"could not kill {pid}: {exc}"

    timer = threading.Timer(delay, kill)
    timer.daemon = True
    timer.start()
    return timer


def _engine_duplicates(engine) -> int:
    """Results the engine itself saw twice and dropped (at-least-once delivery)."""
    return int(getattr(engine, "duplicates", 0) or 0)


def run_cell(engine, wl, variant: str, spec: dict) -> dict[str, Any]:
    cell: dict[str, Any] = {"status": "ok", "verified": False}
    roots = engine.process_roots
    samples: list[float] = []
    outputs: list[RunOutput] = []
    fault: dict[str, Any] = {}
    dup_before = _engine_duplicates(engine)  # the engine's count runs over all cells
    with PeakMemory(roots=roots) as mem:
        for i in range(spec["warmup"] + spec["repeats"]):
            measured = i >= spec["warmup"]
            timer = None
            if measured and spec.get("kill_worker") and not fault and samples == []:
                # kill a worker part-way through the first measured repetition
                expected = outputs[-1].metrics.get("wall_hint_s") if outputs else None
                delay = spec.get("kill_after_s") or max(0.05, 0.4 * (expected or 0.5))
                timer = _kill_one_worker(engine, delay, fault)
            t0 = time.perf_counter()
            try:
                out = wl.run(engine, variant)
            finally:
                if timer:
                    timer.join()
            wall = time.perf_counter() - t0
            out.metrics.setdefault("wall_hint_s", wall)
            ok, detail = wl.verify(out)
            if not ok:
                cell.update(
                    status="failed",
                    verified=False,
                    verify_detail=detail,
                    error=f"wrong answer: {detail}",
                    lost=out.lost,
                    duplicates=out.duplicates + _engine_duplicates(engine) - dup_before,
                )
                if spec.get("kill_worker"):
                    cell["fault"] = fault or {"error": "no worker was killed"}
                return cell
            outputs.append(out)
            if measured:
                samples.append(wall)
    last = outputs[-1]
    cell.update(
        verified=True,
        verify_detail=detail,
        wall=summarize(samples),
        wall_s=summarize(samples)["median"],
        n_tasks=last.n_tasks,
        metrics={k: v for k, v in last.metrics.items() if k != "wall_hint_s"},
        peak_rss_mb=round(mem.peak_mb, 1),
        lost=sum(o.lost for o in outputs),
        duplicates=sum(o.duplicates for o in outputs) + _engine_duplicates(engine) - dup_before,
    )
    if spec.get("kill_worker"):
        cell["fault"] = fault or {"error": "no worker was killed"}
    return cell


def run_engine(spec: dict, events: Events) -> None:
    name = spec["engine"]
    engine = None
    try:
        cls = registry.engine_class(name)
        engine = cls(
            address=spec.get("address"), workers=spec.get("workers"), **spec.get("options", {})
        )
        t0 = time.perf_counter()
        engine.start()
        startup = time.perf_counter() - t0
        idle = rss_mb(tree([os.getpid(), *engine.process_roots()]))
        events.emit(
            "engine",
            engine=name,
            status="ok",
            startup_s=startup,
            idle_rss_mb=round(idle, 1),
            describe=engine.describe(),
            # versions as seen by the engine's own interpreter (Flink has its own)
            python=sys.version.split()[0],
            versions=library_versions(cls.libraries),
        )
    except BaseException as exc:
        events.emit(
            "engine",
            engine=name,
            status="failed",
            error=_error_line(exc),
            traceback=traceback.format_exc(limit=8),
        )
        if engine is not None:
            _close(engine, events)
        return
    try:
        for wname in spec["workloads"]:
            # decided from declarations first: an unsupported workload is never built
            # (its libraries may not even exist in this engine's environment)
            reason = workload_class(wname).unsupported_reason(cls)
            if reason:
                events.emit(
                    "cell",
                    engine=name,
                    workload=wname,
                    variant="-",
                    status="unsupported",
                    reason=reason,
                )
                continue
            try:
                wl = create_workload(wname, spec["size"], **spec.get("params", {}).get(wname, {}))
            except Exception as exc:
                events.emit(
                    "cell",
                    engine=name,
                    workload=wname,
                    variant="default",
                    status="failed",
                    error=_error_line(exc),
                )
                continue
            wl.monitor = lambda _w=wname, **ev: events.emit("step", engine=name, workload=_w, **ev)
            for variant in wl.variants(engine):
                events.emit("cell_start", engine=name, workload=wname, variant=variant)
                try:
                    cell = run_cell(engine, wl, variant, spec)
                except Exception as exc:
                    cell = {
                        "status": "failed",
                        "verified": False,
                        "error": _error_line(exc),
                        "traceback": traceback.format_exc(limit=8),
                    }
                events.emit(
                    "cell", engine=name, workload=wname, variant=variant, startup_s=startup, **cell
                )
    finally:
        _close(engine, events)


def _close(engine, events: Events) -> None:
    t0 = time.perf_counter()
    try:
        engine.close()
        events.emit("closed", engine=engine.name, close_s=time.perf_counter() - t0)
    except BaseException as exc:
        events.emit("closed", engine=engine.name, error=_error_line(exc))


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


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    events = Events(argv[1])

    # The parent asks us to stop with SIGTERM: unwind through the finally blocks so the
    # engine's close() stops what it started.
    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    _exit_with_parent()
    try:
        if spec["engine"] == "reference":
            run_references(spec, events)
        else:
            run_engine(spec, events)
    except KeyboardInterrupt:
        events.emit("interrupted")
        return 130
    except DistlabError as exc:
        events.emit("fatal", error=str(exc))
        return 2
    events.emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
