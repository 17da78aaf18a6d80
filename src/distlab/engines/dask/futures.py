"""Dask's futures and actors with distlab's semantics: a failed task carries the
worker's traceback, a task whose workers died (KilledWorker) or whose cluster has no
worker left is TaskLost."""

from __future__ import annotations

import traceback
from typing import Any

import distributed
from distributed import Client, KilledWorker

from distlab.contracts import RemoteTraceback, TaskLost


def with_remote_traceback(exc: BaseException, dask_future: Any) -> BaseException:
    """Attach the worker-side frames of a failed task as ``__cause__``."""
    if isinstance(exc.__cause__, RemoteTraceback):
        return exc
    try:
        tb = dask_future.traceback()
    except Exception:  # the scheduler may have forgotten it; keep the exception itself
        tb = None
    if tb is not None:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_tb(tb))
        exc.__cause__ = RemoteTraceback(text + "".join(traceback.format_exception_only(exc)))
    return exc


def lost_task(exc: KilledWorker) -> TaskLost:
    """KilledWorker: the workers running the task died (allowed-failures times)."""
    lost = TaskLost(f"Dask lost the task: {exc}")
    lost.__cause__ = exc
    return lost


#: seconds an embedded cluster may have no live worker process (its nannies restarting
#: them) before waiting callers get TaskLost instead of waiting forever
NO_WORKER_GRACE_S = 10.0
#: how often a waiting caller checks that the embedded cluster still has a worker
LIVENESS_INTERVAL_S = 1.0


class DaskFuture:
    """A dask Future (or actor future) whose failures carry the remote traceback;
    ``check()``, if given, runs between the slices of a wait and raises when the
    cluster cannot finish the task (no worker left)."""

    __slots__ = ("check", "inner")

    def __init__(self, inner: Any, check: Any = None):
        self.inner = inner
        self.check = check

    def result(self, timeout: float | None = None) -> Any:
        try:
            if self.check is None or timeout is not None:
                return self.inner.result(timeout=timeout)
            while True:
                try:
                    return self.inner.result(timeout=LIVENESS_INTERVAL_S)
                except TimeoutError:
                    self.check()
        except KilledWorker as exc:
            raise lost_task(exc) from exc
        except Exception as exc:
            if hasattr(self.inner, "traceback"):  # actor futures have no traceback()
                with_remote_traceback(exc, self.inner)
            raise

    def done(self) -> bool:
        return self.inner.done()


class DaskActor:
    def __init__(self, proxy: Any, client: Client):
        self._proxy = proxy
        self._client = client

    def call(self, method: str, *args: Any, **kwargs: Any) -> DaskFuture:
        # The proxy finds its client through get_client(); ours is not the global default.
        with self._client.as_current():
            return DaskFuture(getattr(self._proxy, method)(*args, **kwargs))


def seceded(fn: Any, *args: Any) -> Any:
    """On a worker: leave the worker's thread pool (its slot goes to other tasks), as
    Dask advises for a task that runs for long, then run ``fn``."""
    distributed.secede()
    return fn(*args)
