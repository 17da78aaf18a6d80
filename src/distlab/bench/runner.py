"""Running a benchmark's cell for each engine, each in an engine process of its own
(started by the same launcher as ``distlab run``: the engine's own interpreter; it dies
with its parent), and saving the rows."""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.run.launcher import EngineProcess
from distlab.run.model import BenchMeasured

#: the longest one engine's bench may take
BENCH_TIMEOUT_S = 1800.0


def bench_job(
    name: str, params: dict[str, Any], address: str | None = None, options: dict | None = None
) -> BenchJob:
    """The job of one engine's bench process (``options``: its engine's, e.g. a test-host
    deployment's)."""
    return BenchJob(
        engine=name,
        params=params,
        address=address,
        workers=params.get("workers"),
        options=dict(options or {}),
    )


def run_cells(
    kind: str, engines: list[str], params: dict[str, Any], addresses: dict[str, str], progress=print
) -> list[dict[str, Any]]:
    """Run ``<kind>_cell`` for each engine in an engine process of its own."""
    rows = []
    for name in engines:
        registry.engine_class(name)  # one-line error now if it is not installed
        job = bench_job(name, params, addresses.get(name))
        progress(f"measuring {name} ...")
        rows.append(measure(kind, job))
    return rows


def measure(kind: str, job: BenchJob, wrap: list[str] | None = None) -> dict[str, Any]:
    """``<kind>_cell`` in an engine process of its own (``wrap``: a command prefix that
    runs it on a test host)."""
    with tempfile.TemporaryDirectory(prefix="distlab-bench-") as tmp:
        ep = EngineProcess(job, Path(tmp), mode=kind, wrap=wrap, module="distlab.bench.process")
        deadline = time.monotonic() + BENCH_TIMEOUT_S
        try:
            while ep.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            timed_out = ep.proc.poll() is None
        finally:
            ep.stop()
        rows = [ev.row for ev in ep.new_events() if isinstance(ev, BenchMeasured)]
        if rows:
            return rows[-1]
        if timed_out:
            return {"engine": job.engine, "error": f"timed out after {BENCH_TIMEOUT_S:.0f} s"}
        return {"engine": job.engine, "error": ep.log_tail() or "no output"}


def save(benchmark: str, rows: list[dict[str, Any]], path: Path) -> Path:
    """Write the figures to ``path``, or into the directory ``path`` as
    ``bench-<benchmark>.json`` (where `distlab report` of that directory finds them)."""
    from distlab.results import BenchDocument, Speed, environment, save_bench

    if path.is_dir():
        path = path / f"bench-{benchmark}.json"
    env = environment()
    env.speed = Speed(**speed_figure())
    return save_bench(BenchDocument(benchmark, env, rows), path)


@functools.cache
def speed_figure() -> dict[str, Any]:
    """The machine's speed figure for this bench command, timed once, after its engines
    stopped (nothing disturbs it then): the figures file and the history share it."""
    from distlab import machine_speed

    return machine_speed.measure()
