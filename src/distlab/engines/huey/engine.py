"""Huey: each task a message in Huey's storage (Redis, or a SQLite file without any
server), run by ``huey_consumer`` with ``-w`` workers of ``-k`` kind (processes by
default here, one task at a time each), its result read back with ``Result.get``
(Huey polls, backing off up to 1 s).

Huey removes a task from its queue when a worker takes it: a worker killed mid-task
takes the task with it. The consumer notices the dead worker at its next health check
(every 10 s) and starts another; the task is not run again (Huey's ``retries`` cover a
task that raised, not one whose worker died).
"""

from __future__ import annotations

import os
from typing import Any

from huey.exceptions import HueyException, TaskException

from distlab.contracts import TaskLost
from distlab.engines.common.queue_engine import QueueEngine
from distlab.engines.huey import workers as huey_workers
from distlab.engines.huey.app import make_huey
from distlab.engines.huey.plugin import PLUGIN


class HueyEngine(QueueEngine):
    name = "huey"
    plugin = PLUGIN
    server = PLUGIN.server
    worker_cli = "huey_consumer"

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._huey = self._run = self._noop = None

    def worker_settings(self) -> dict[str, Any]:
        settings = huey_workers.worker_settings(self.options)
        if self.options["storage"] == "sqlite":
            settings["sqlite_file"] = os.path.join(self._workdir or ".", "huey.db")
        return settings

    def task_processes_expected(self) -> int:
        # threads (or greenlets) of one consumer process: waiting for more processes
        # would wait the whole start timeout
        return super().task_processes_expected() if self.options["worker_type"] == "process" else 1

    def uses_redis(self) -> bool:
        return self.options["storage"] == "redis"

    def worker_commands(self) -> list[list[str]]:
        return huey_workers.worker_commands(self.config(), self.workers or 1)

    def connect(self) -> None:
        self._huey, self._run, self._noop = make_huey(self.config())

    def disconnect(self) -> None:
        self._huey = self._run = self._noop = None

    def enqueue(self, call: str) -> Any:
        return self._run(call)

    def wait_result(self, handle: Any, wait_s: float) -> str | None:
        try:
            if wait_s <= 0:
                return handle.get()
            return handle.get(blocking=True, timeout=wait_s)
        except TaskException as exc:  # the task raised inside Huey itself
            raise TaskLost(f"huey failed the task: {exc.metadata.get('error')}") from None
        except HueyException:  # timed out waiting
            return None

    # Huey's own API: call the task, then Result.get(blocking=True)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]:
        return [self._noop(i, work_ms) for i in range(n)]

    def job_results(self, handles: list[Any]) -> list[Any]:
        return [r.get(blocking=True, timeout=60) for r in handles]
