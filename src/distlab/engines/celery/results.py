"""The driver's side of Celery's results: futures over AsyncResult, collecting a result
without waiting on a dead worker, and letting go of the result backend on close.

Celery itself would wait forever for a task whose worker died, so every wait here is cut
into LIVENESS_INTERVAL slices between which the engine's ``check_alive`` runs (it raises
when a worker process has exited, or the broker is lost). A result store that stops
answering (Redis killed, perhaps restarted) is waited out slice by slice as long as
``check_alive`` allows, instead of inside Celery's own reconnection loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import celery.exceptions
from celery import Celery
from celery.result import AsyncResult

from distlab.contracts import (
    BrokerLost,
    DistlabError,
    TaskLost,
    remote_traceback_text,
    with_remote_traceback,
)
from distlab.contracts.measured import Loss
from distlab.engines.celery.app import CarriedException, CarriedValue

# How often a waiting caller checks that the worker processes are still alive.
LIVENESS_INTERVAL = 1.0


def _raise_as_task_error(exc: Exception) -> None:
    """A task's own exception as its type with its remote traceback (unwrapped if the
    worker had to carry it: app.CarriedException); Celery's WorkerLostError (the pool
    process running the task died) as TaskLost."""
    if isinstance(exc, celery.exceptions.WorkerLostError):
        raise TaskLost(f"the celery worker running the task died ({exc})") from exc
    if isinstance(exc, CarriedException):
        try:
            exc = exc.original()
        except Exception as undecodable:  # its class cannot be rebuilt here: say what it was
            raise exc from undecodable
    raise with_remote_traceback(exc) from exc.__cause__


def _check_alive(check_workers: Callable[[], None]) -> None:
    """A worker process that exited took the tasks it held with it: TaskLost."""
    try:
        check_workers()
    except DistlabError as exc:
        if isinstance(exc, TaskLost | BrokerLost):  # a dead broker is not one lost task
            raise
        raise TaskLost(str(exc)) from None


#: ``check_alive(unreachable, for_s)``: raises what a waiting caller must know (a worker
#: exited, the broker is lost); ``unreachable`` is the connection error the last wait got
#: (None: the store answered) and ``for_s`` how long the store has been unreachable
CheckAlive = Callable[[BaseException | None, float], None]


def unreachable(exc: BaseException, connection_errors: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc`` says the result store could not be reached (rather than being a
    task's own outcome): a connection error the task did not raise itself, or Celery
    giving up reconnecting to its result store."""
    if remote_traceback_text(exc):  # raised inside the task: its own outcome
        return False
    if isinstance(exc, RuntimeError) and "Retry limit exceeded" in str(exc):
        return True
    return isinstance(exc, connection_errors + (ConnectionError,))


def noting_losses(losses: list[Loss] | None, wait: Callable[[], Any]) -> Any:
    """``wait()``; a TaskLost it raises is noted in ``losses`` first (who noticed: Celery,
    when the pool reported its child lost, else distlab's watch of the workers)."""
    try:
        return wait()
    except TaskLost as exc:
        if losses is not None:
            by_celery = isinstance(exc.__cause__, celery.exceptions.WorkerLostError)
            losses.append(Loss(time.time(), "the queue" if by_celery else "distlab", str(exc)))
        raise


def wait_for(
    result: AsyncResult,
    timeout: float | None,
    check_alive: CheckAlive,
    connection_errors: tuple[type[BaseException], ...] = (),
) -> Any:
    """One result, its task's exception raised as the task's own type. Waits in
    LIVENESS_INTERVAL slices with ``check_alive`` between them, so a dead worker or a
    lost broker is reported, not waited for; a result store that stops answering is
    waited out (it may be restarted) as long as ``check_alive`` allows."""
    deadline = None if timeout is None else time.monotonic() + timeout
    unreachable_since: float | None = None
    while True:
        wait = LIVENESS_INTERVAL
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        try:
            value = result.get(timeout=wait, propagate=True, disable_sync_subtasks=False)
            return value.original() if isinstance(value, CarriedValue) else value
        except celery.exceptions.TimeoutError:
            unreachable_since = None
            _check_alive(lambda: check_alive(None, 0.0))
        except Exception as exc:
            if not unreachable(exc, connection_errors):
                _raise_as_task_error(exc)
            if getattr(result, "_cache", None) is not None:
                # the stored outcome itself is the connection error: the worker could not
                # store the task's result while the store was down, and stored that instead
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise TaskLost(
                    f"the celery worker could not store the task's result ({first})"
                ) from exc
            now = time.monotonic()
            unreachable_since = unreachable_since or now
            down_s = now - unreachable_since
            _check_alive(lambda e=exc, d=down_s: check_alive(e, d))
            time.sleep(0.2)
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"celery task {result.id} not done in {timeout}s") from None


class CeleryFuture:
    """An AsyncResult with the contract's result(timeout)/done() and error semantics.

    ``is_open()`` says whether the engine (and its result backend) is still there;
    ``check_alive`` raises when a worker process has exited or the broker is lost."""

    def __init__(
        self,
        async_result: AsyncResult,
        is_open: Callable[[], bool],
        check_alive: CheckAlive,
        connection_errors: tuple[type[BaseException], ...] = (),
        losses: list[Loss] | None = None,
    ):
        self._losses = losses
        self._async_result = async_result
        self._is_open = is_open
        self._check_alive = check_alive
        self._connection_errors = connection_errors

    @property
    def id(self) -> str:
        return self._async_result.id

    def done(self) -> bool:
        return self._async_result.ready()

    def result(self, timeout: float | None = None) -> Any:
        if not self._is_open():
            raise DistlabError("the celery engine is closed: its results are gone")
        return noting_losses(
            self._losses,
            lambda: wait_for(
                self._async_result, timeout, self._check_alive, self._connection_errors
            ),
        )


def collect(
    result: AsyncResult,
    check_alive: CheckAlive,
    connection_errors: tuple[type[BaseException], ...] = (),
    losses: list[Loss] | None = None,
) -> Any:
    """One result of map(): as CeleryFuture.result without a timeout."""
    # One get per result: measured faster here than ResultSet.join_native (1,000
    # no-op tasks: 1.10 s against 1.27-1.34 s of collecting on a 2-core machine).
    return noting_losses(losses, lambda: wait_for(result, None, check_alive, connection_errors))


def drop_result_subscriptions(app: Celery) -> None:
    """Forget the result channels of futures never collected: each unsubscribes when
    garbage collected, and once our Redis is gone that would retry connecting for ~20 s.
    """
    consumer = getattr(app.backend, "result_consumer", None)  # Redis backends only
    subscribed = getattr(consumer, "subscribed_to", None)
    if subscribed is not None:
        subscribed.clear()
    try:
        if consumer is not None:
            consumer.stop()
    except Exception:  # the connection may already be broken
        pass
