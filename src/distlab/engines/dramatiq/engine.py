"""Dramatiq: each task a message on a Redis queue, run by ``dramatiq`` worker processes
(``--processes`` = workers, ``--threads`` 1 by default: one task at a time each, as the
other engines), its result through Dramatiq's Results middleware (RedisBackend), read with
``Message.get_result(block=True)``.

Dramatiq acknowledges a message after the actor ran: a worker that dies mid-task leaves
it unacknowledged, and the broker requeues it once that worker's heartbeat is older than
``heartbeat_timeout_ms`` and another worker runs maintenance (1 fetch in
``maintenance_chance``). Its main process stops every worker process when one of them
dies; the engine starts the CLI again, as a supervisor would.
"""

from __future__ import annotations

from typing import Any

from dramatiq.results import ResultMissing, ResultTimeout

from distlab.engines.common.queue_engine import QueueEngine
from distlab.engines.dramatiq import workers as dramatiq_workers
from distlab.engines.dramatiq.app import NOOP_ACTOR, RUN_ACTOR, make_broker
from distlab.engines.dramatiq.plugin import PLUGIN


class DramatiqEngine(QueueEngine):
    name = "dramatiq"
    plugin = PLUGIN
    server = PLUGIN.server
    worker_cli = "dramatiq"

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self._broker = self._backend = None
        self._actors: dict[str, Any] = {}

    def worker_settings(self) -> dict[str, Any]:
        return dramatiq_workers.worker_settings(self.options)

    def worker_commands(self) -> list[list[str]]:
        return dramatiq_workers.worker_commands(self.config(), self.workers or 1)

    def connect(self) -> None:
        # the actors carry their own broker: no global one is set in the driver
        self._broker, self._backend, self._actors = make_broker(self.config())

    def disconnect(self) -> None:
        if self._broker is not None:
            self._broker.close()
            self._broker = None

    def enqueue(self, call: str) -> Any:
        return self._actors[RUN_ACTOR].send(call)

    def wait_result(self, handle: Any, wait_s: float) -> str | None:
        try:
            if wait_s <= 0:
                return handle.get_result(backend=self._backend)
            return handle.get_result(
                backend=self._backend, block=True, timeout=max(1, int(wait_s * 1000))
            )
        except (ResultMissing, ResultTimeout):
            return None

    # Dramatiq's own API: actor.send(), then get_result(block=True)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]:
        actor = self._actors[NOOP_ACTOR]
        return [actor.send(i, work_ms) for i in range(n)]

    def job_results(self, handles: list[Any]) -> list[Any]:
        backend = self._backend
        return [m.get_result(backend=backend, block=True, timeout=60_000) for m in handles]
