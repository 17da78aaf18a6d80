"""Taskiq: each task a message through taskiq-redis, run by ``taskiq worker`` processes
(``--workers`` = workers, ``--max-async-tasks 1``: one task at a time each, a sync
function running on the worker's thread pool), its result in Redis, read with
``wait_result`` (taskiq polls every 0.2 s by default). Taskiq's client is async: the
engine drives it from an event loop of its own (distlab.engines.common.event_loop).

With the default ListQueueBroker a task is removed from its list when a worker receives
it: a worker killed mid-task takes it along, and taskiq's parent process starts another
worker. ``broker=stream`` (the preset ``taskiq:at_least_once``) uses RedisStreamBroker,
whose tasks are acknowledged once executed; another worker claims an unacknowledged one
after ``idle_timeout_ms`` (when a new message arrives: its claim runs then).
"""

from __future__ import annotations

from typing import Any

from taskiq.exceptions import ResultGetError, ResultIsReadyError, TaskiqResultTimeoutError

from distlab.contracts import TaskLost
from distlab.engines.common.event_loop import BackgroundLoop
from distlab.engines.common.queue_engine import QueueEngine
from distlab.engines.common.queue_futures import connection_lost
from distlab.engines.taskiq import workers as taskiq_workers
from distlab.engines.taskiq.app import make_broker
from distlab.engines.taskiq.plugin import PLUGIN


class TaskiqEngine(QueueEngine):
    name = "taskiq"
    plugin = PLUGIN
    server = PLUGIN.server
    worker_cli = "taskiq worker"
    # the list broker's BRPOP waits without a limit and never sees the shutdown signal:
    # an idle worker leaves only when killed, so waiting 10 s for it is time lost
    stop_grace_s = 2.0

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._loop: BackgroundLoop | None = None
        self._broker = self._run = self._noop = None

    def worker_settings(self) -> dict[str, Any]:
        return taskiq_workers.worker_settings(self.options)

    def worker_commands(self) -> list[list[str]]:
        return taskiq_workers.worker_commands(self.config(), self.workers or 1)

    def connect(self) -> None:
        self._loop = BackgroundLoop(f"distlab-taskiq-{self.queue}")
        self._broker, self._run, self._noop = make_broker(self.config())
        self._loop.run(self._broker.startup(), timeout=30)

    def disconnect(self) -> None:
        if self._loop is None:
            return
        try:
            self._loop.run(self._broker.shutdown(), timeout=10)
        finally:
            self._loop.close()
            self._loop = None

    def enqueue(self, call: str) -> Any:
        return self._loop.run(self._run.kiq(call))

    def wait_result(self, handle: Any, wait_s: float) -> str | None:
        interval = self.options["poll_interval"]
        try:
            if wait_s <= 0:
                if not self._loop.run(handle.is_ready()):
                    return None
                result = self._loop.run(handle.get_result())
            else:
                waiting = handle.wait_result(check_interval=interval, timeout=wait_s)
                result = self._loop.run(waiting)
        except (TimeoutError, TaskiqResultTimeoutError):
            return None
        except (ResultGetError, ResultIsReadyError) as exc:
            if connection_lost(exc):  # Redis is away (a restart?): the future waits it out
                raise ConnectionError(f"taskiq cannot reach its result backend: {exc}") from exc
            raise TaskLost(f"taskiq could not read the task's result: {exc}") from None
        if result.is_err:
            raise TaskLost(f"taskiq failed the task: {result.error!r}")
        return result.return_value

    # Taskiq's own API: kiq(), then wait_result() (each a coroutine on the engine's loop)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]:
        async def send() -> list[Any]:
            return [await self._noop.kiq(i, work_ms) for i in range(n)]

        return self._loop.run(send())

    def job_results(self, handles: list[Any]) -> list[Any]:
        interval = self.options["poll_interval"]

        async def collect() -> list[Any]:
            results = [await t.wait_result(check_interval=interval, timeout=60) for t in handles]
            return [r.return_value for r in results]

        return self._loop.run(collect())
