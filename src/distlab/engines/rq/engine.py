"""RQ: each task a job on a Redis list, run by ``rq worker-pool`` (RQ's own pool of
workers), each job in a work-horse the worker forks for it, its result in a Redis stream
that the driver reads blocking (``Job.latest_result(timeout)``).

A work-horse killed mid-job is noticed by its worker, which fails the job ("work-horse
terminated unexpectedly"): RQ reports the loss itself, and the future raises TaskLost
with its words. With ``retries`` (the preset ``rq:at_least_once``: 3) the job carries
``Retry(max=retries)``, RQ's documented way to have a failed job run again.
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.results import Result

from distlab.contracts import TaskLost
from distlab.engines.common.carried import noop, run_carried
from distlab.engines.common.queue_engine import QueueEngine
from distlab.engines.rq import workers as rq_workers
from distlab.engines.rq.plugin import PLUGIN

#: statuses of a job that failed once and will run again (a retry is pending)
WILL_RUN_AGAIN = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED}


class RQEngine(QueueEngine):
    name = "rq"
    plugin = PLUGIN
    server = PLUGIN.server
    worker_cli = "rq worker-pool"
    task_processes_come_and_go = True  # a work-horse per job
    # a pool asked to stop while one of its workers is busy takes about 11 s to leave
    # (measured on close right after a map); nothing it holds matters once closed
    stop_grace_s = 2.0

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._queue: Queue | None = None
        retries = self.options["retries"]
        self._retry = Retry(max=retries) if retries else None

    def worker_commands(self) -> list[list[str]]:
        return rq_workers.worker_commands(self.config(), self.workers or 1)

    def worker_settings(self) -> dict[str, Any]:
        return rq_workers.worker_settings(self.options)

    def connect(self) -> None:
        self._queue = Queue(self.queue, connection=Redis.from_url(self.redis_url))

    def disconnect(self) -> None:
        if self._queue is not None:
            self._queue.connection.close()
            self._queue = None

    def enqueue(self, call: str) -> Job:
        return self._queue.enqueue_call(run_carried, args=(call,), retry=self._retry)

    def wait_result(self, handle: Job, wait_s: float) -> str | None:
        # RQ blocks on the job's result stream (XREAD) for whole seconds
        result = handle.latest_result(timeout=max(1, round(wait_s)) if wait_s > 0 else 0)
        if result is None:
            return None
        if result.type == Result.Type.SUCCESSFUL:
            return result.return_value
        if handle.get_status(refresh=True) in WILL_RUN_AGAIN:
            time.sleep(min(wait_s, 0.1))  # the failed attempt's result stays the latest
            return None
        lines = (result.exc_string or "").strip().splitlines()
        raise TaskLost(f"rq failed the job: {lines[-1] if lines else result.type}")

    # RQ's own API: a function by reference, enqueue, then its latest result (blocking)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Job]:
        return [self._queue.enqueue(noop, i, work_ms) for i in range(n)]

    def job_results(self, handles: list[Job]) -> list[Any]:
        return [job.latest_result(timeout=60).return_value for job in handles]
