"""The pseudo-engine ``reference``: the single-process reference computations of each
workload (the seed's sequential loop, vectorized NumPy), timed and verified like a cell."""

from __future__ import annotations

import time
from typing import Any

from distlab.contracts import error_line
from distlab.run.model import EngineJob, ReferenceMeasured
from distlab.stats import summarize
from distlab.workloads import create as create_workload
from distlab.workloads.base import RunOutput


def run_references(job: EngineJob, events) -> None:
    """Measure and verify every reference of every workload; emit one event per workload
    (``events`` is the engine process's event writer)."""
    for name in job.workloads:
        try:
            wl = create_workload(name, job.size, **job.params.get(name, {}))
            refs = wl.references()
        except Exception as exc:
            events.emit(ReferenceMeasured(name, error=error_line(exc)))
            continue
        out: dict[str, Any] = {}
        for ref_name, fn in refs.items():
            if f"{name}/{ref_name}" in job.left_out:
                continue  # only a row the run's time budget left out needed it
            try:
                samples, result = [], None
                for _ in range(wl.reference_runs(ref_name, job.repeats)):
                    t0 = time.perf_counter()
                    result = fn()
                    samples.append(time.perf_counter() - t0)
                # a reference that measures itself (a stream's raw pipe) returns its figures
                output = result if isinstance(result, RunOutput) else RunOutput(result)
                ok, detail = wl.verify(output, ref_name)
                out[ref_name] = {"wall": summarize(samples), "verified": ok, "detail": detail}
                if output.metrics:
                    out[ref_name]["metrics"] = output.metrics
            except Exception as exc:
                out[ref_name] = {"error": error_line(exc)}
        events.emit(ReferenceMeasured(name, references=out))
