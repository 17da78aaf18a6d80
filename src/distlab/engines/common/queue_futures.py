"""The driver's side of a Redis task queue's results: a future that waits in slices and,
between them, asks its engine whether the task can still come (distlab.engines.common
.queue_engine.QueueEngine.check_task).

No queue tells its caller that a worker died holding the task (RQ excepted: it marks the
job failed). Waiting on the queue's own result API alone would wait forever for a task
a dead worker took with it; the engine's check raises TaskLost instead once the queue
had its chance to deliver it again (``lost_after``), and BrokerLost once the broker is
gone.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import redis.exceptions

from distlab.contracts import DistlabError, TaskLost
from distlab.contracts.measured import Loss
from distlab.engines.common.carried import outcome

#: the longest one wait on the queue's result API lasts before the engine's check runs
SLICE_S = 0.5
#: what a client raises while Redis cannot be reached (a broker restart under way)
CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

_PENDING = object()


class WaitingEngine(Protocol):
    """What a future asks of its engine (distlab.engines.common.queue_engine.QueueEngine)."""

    name: str
    started: bool
    losses: list[Loss]

    def wait_result(self, handle: Any, wait_s: float) -> str | None: ...

    def progressed(self) -> None: ...

    def check_task(
        self, future: QueueFuture, unreachable: BaseException | None = None, for_s: float = 0.0
    ) -> None: ...


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc``, or what it was raised from, says Redis could not be reached (a
    queue's client may wrap the connection error in its own: Taskiq's ResultGetError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, CONNECTION_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class QueueFuture:
    """One task's result through the queue's own API (the engine's ``wait_result``)."""

    def __init__(self, engine: WaitingEngine, handle: Any):
        self._engine = engine
        self.handle = handle
        self.submitted = time.monotonic()
        self._text: Any = _PENDING

    def done(self) -> bool:
        if self._text is _PENDING:
            self._poll(0.0)
        return self._text is not _PENDING

    def _poll(self, wait_s: float) -> None:
        try:
            text = self._engine.wait_result(self.handle, wait_s)
        except TaskLost as exc:  # the queue itself reported the task failed
            self._engine.losses.append(Loss(time.time(), "the queue", str(exc)))
            raise
        if text is not None:
            self._text = text
            self._engine.progressed()

    def result(self, timeout: float | None = None) -> Any:
        if not self._engine.started:
            raise DistlabError(f"the {self._engine.name} engine is closed: its results are gone")
        deadline = None if timeout is None else time.monotonic() + timeout
        unreachable: BaseException | None = None
        since = 0.0
        while self._text is _PENDING:
            wait = SLICE_S
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                self._poll(wait)
                unreachable = None
            except CONNECTION_ERRORS as exc:  # waited out while the broker may come back
                unreachable, since = exc, since if unreachable is not None else time.monotonic()
                time.sleep(0.2)
            if self._text is not _PENDING:
                break
            try:
                down_s = time.monotonic() - since if unreachable is not None else 0.0
                self._engine.check_task(self, unreachable, down_s)
            except TaskLost as exc:  # a worker (or the broker) died; the task did not come back
                self._engine.losses.append(Loss(time.time(), "distlab", str(exc)))
                raise
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self._engine.name} task not done in {timeout}s")
        return outcome(self._text)
