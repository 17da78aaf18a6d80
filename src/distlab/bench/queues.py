"""`distlab bench queues`: the task queues' published no-op test, done in one run with
spread, verified.

Each row is one queue with one of its worker pool kinds (processes, threads, async), in
an engine process of its own, on the same embedded Redis. A sample enqueues N jobs
through the queue's own API (``enqueue_jobs``: a registered ``noop(i)``, no distlab
payload), then collects every result through the queue's own result API
(``job_results``): the enqueue time and the time to the last result are both measured
from the first enqueue; the results are checked (count and content) after the clock
stops. Then R sequential one-job round trips. ``work_ms`` makes every job spin that long
first: the CPU-bound variant, where processes and threads part ways (the GIL).

The published figures (one run each, on an M2 Pro with 10 workers, read by hand) come
from python_queue_benchmark; only ratios between queues compare across machines.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import DistlabError
from distlab.contracts.measured import NativeJobs
from distlab.stats import percentiles

#: python_queue_benchmark: 20,000 no-op jobs, 10 workers, Redis, an M2 Pro (seconds)
PUBLISHED_TO_LAST_S = {
    "dramatiq": 1.53, "taskiq": 2.03, "huey": 3.62, "celery": 11.68, "arq": 35.37, "rq": 51.05,
}  # fmt: skip
PUBLISHED_ENQUEUE_S = {"huey": 2.40, "dramatiq": 3.27, "rq": 4.03, "celery": 6.34, "arq": 9.34}
#: what the published Celery figure ran on
PUBLISHED_NOTE = "published: python_queue_benchmark, one run, M2 Pro, 10 workers (Celery: threads)"


@dataclass(frozen=True)
class PoolRow:
    """One row of the table: a queue with one kind of worker pool."""

    label: str
    engine: str
    #: the engine's options for this pool kind
    options: dict[str, Any] = field(default_factory=dict)
    #: the option that takes the worker count when one process runs them all as threads
    #: (then the engine gets one worker process); None: ``workers`` as the engine reads it
    threads_option: str | None = None

    def engine_options(self, workers: int) -> dict[str, Any]:
        if self.threads_option:
            return {**self.options, self.threads_option: workers}
        return dict(self.options)

    def engine_workers(self, workers: int) -> int:
        return 1 if self.threads_option else workers


#: every pool kind each queue offers, where they differ (Celery's and Huey's thread
#: pools take the worker count as their size; Dramatiq's workers are its processes)
POOLS = (
    PoolRow("celery prefork", "celery", {"pool": "prefork"}),
    PoolRow("celery threads", "celery", {"pool": "threads"}),
    PoolRow("dramatiq processes", "dramatiq", {"threads": 1}),
    PoolRow("dramatiq threads", "dramatiq", threads_option="threads"),
    PoolRow("huey processes", "huey", {"worker_type": "process"}),
    PoolRow("huey threads", "huey", {"worker_type": "thread"}),
    PoolRow("rq work-horses", "rq"),
    PoolRow("taskiq async", "taskiq"),
    PoolRow("arq async", "arq"),
)
QUEUES = tuple(dict.fromkeys(row.engine for row in POOLS))


def pool_rows(engines: list[str]) -> list[PoolRow]:
    """The rows of the queues asked for, in the table's order; a one-line error for an
    engine that is not a queue here."""
    unknown = [e for e in engines if e not in QUEUES]
    if unknown:
        raise DistlabError(f"bench queues measures {', '.join(QUEUES)}; not: {', '.join(unknown)}")
    return [row for row in POOLS if row.engine in engines]


def queues_cell(job: BenchJob) -> dict[str, Any]:
    """One row (runs inside its own engine process)."""
    p = job.params
    n, repeats, round_trips, work_ms = p["n"], p["repeats"], p["round_trips"], p["work_ms"]
    eng = registry.create(job.engine, address=job.address, workers=job.workers, **job.options)
    if not isinstance(eng, NativeJobs):
        raise DistlabError(f"{job.engine} has no job-queue API to measure")
    out: dict[str, Any] = {"engine": job.engine, "label": p["label"], "n": n, "work_ms": work_ms}
    t0 = time.perf_counter()
    eng.start()
    out["startup_s"] = time.perf_counter() - t0
    try:
        out["workers"] = eng.workers
        out["settings"] = eng.describe()
        warm = min(n, 500)
        _check(job.engine, eng.job_results(eng.enqueue_jobs(warm, work_ms)), warm)
        enqueue_s, last_s = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            handles = eng.enqueue_jobs(n, work_ms)
            t1 = time.perf_counter()
            values = eng.job_results(handles)
            t2 = time.perf_counter()
            _check(job.engine, values, n)  # after the clock stopped
            enqueue_s.append(t1 - t0)
            last_s.append(t2 - t0)
            del handles, values
        round_trip_ms = []
        for _ in range(round_trips):
            t0 = time.perf_counter()
            eng.job_results(eng.enqueue_jobs(1, work_ms))
            round_trip_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        eng.close()
    out["enqueue_s"] = enqueue_s
    out["to_last_result_s"] = last_s
    out["jobs_per_s"] = n / statistics.median(last_s)
    out["round_trip_ms"] = percentiles(round_trip_ms, (50, 99))
    return out


def _check(engine: str, values: list[Any], n: int) -> None:
    if list(values) != list(range(n)):
        got = len(values)
        raise DistlabError(f"{engine}: {n} jobs gave {got} results, not 0..{n - 1} in order")
