"""arq: each task a job in a Redis sorted set, run by ``arq`` worker processes (one
per worker, each taking up to ``max_jobs`` jobs per poll, arq's 10, and running them one
after another: a synchronous job blocks its process's event loop), its result read with
``Job.result`` (arq polls every ``poll_delay``, 0.5 s by default). arq's client is async: the engine drives it from an
event loop of its own (distlab.engines.common.event_loop).

arq keeps a job in its queue until it is done, marked in progress while a worker runs
it: a worker killed mid-job leaves the mark, which expires ``job_timeout`` (+ a few)
seconds later; then a live worker runs the job again (up to ``max_tries``). The engine
starts the dead worker again, as a supervisor would.
"""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

from distlab.contracts import TaskLost
from distlab.engines.arq import workers as arq_workers
from distlab.engines.arq.app import NOOP_JOB, RUN_JOB
from distlab.engines.arq.plugin import PLUGIN
from distlab.engines.common.event_loop import BackgroundLoop
from distlab.engines.common.queue_engine import QueueEngine
from distlab.engines.common.queue_futures import connection_lost


class ArqEngine(QueueEngine):
    name = "arq"
    plugin = PLUGIN
    server = PLUGIN.server
    worker_cli = "arq"

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._loop: BackgroundLoop | None = None
        self._pool = None

    def worker_settings(self) -> dict[str, Any]:
        return arq_workers.worker_settings(self.options)

    def worker_commands(self) -> list[list[str]]:
        return arq_workers.worker_commands(self.config(), self.workers or 1)

    def connect(self) -> None:
        self._loop = BackgroundLoop(f"distlab-arq-{self.queue}")
        settings = RedisSettings.from_dsn(self.redis_url)
        self._pool = self._loop.run(create_pool(settings, default_queue_name=self.queue), 30)

    def disconnect(self) -> None:
        if self._loop is None:
            return
        try:
            if self._pool is not None:
                self._loop.run(self._pool.aclose(), timeout=10)
        finally:
            self._pool = None
            self._loop.close()
            self._loop = None

    def enqueue(self, call: str) -> Job:
        return self._loop.run(self._pool.enqueue_job(RUN_JOB, call))

    def wait_result(self, handle: Job, wait_s: float) -> str | None:
        poll = self.options["poll_delay"]
        try:
            if wait_s <= 0:
                info = self._loop.run(handle.result_info())
                if info is None:
                    return None
                if not info.success:
                    raise TaskLost(f"arq failed the job: {info.result!r}")
                return info.result
            return self._loop.run(handle.result(timeout=wait_s, poll_delay=poll))
        except TimeoutError:
            return None
        except TaskLost:
            raise
        except Exception as exc:  # arq re-raises what the job raised: only arq's own
            if connection_lost(exc):
                raise  # Redis is away (a restart?): the future waits it out
            raise TaskLost(f"arq failed the job: {exc!r}") from None

    # arq's own API: enqueue_job(), then Job.result() (each a coroutine on the engine's loop)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Job]:
        async def send() -> list[Job]:
            return [await self._pool.enqueue_job(NOOP_JOB, i, work_ms) for i in range(n)]

        return self._loop.run(send())

    def job_results(self, handles: list[Job]) -> list[Any]:
        poll = self.options["poll_delay"]

        async def collect() -> list[Any]:
            return [await job.result(timeout=60, poll_delay=poll) for job in handles]

        return self._loop.run(collect())
