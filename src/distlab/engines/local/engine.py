"""The standard-library process pool: always available, the reference engine.

Options (``distlab.engine("local", ..., **options)``):
  gpus=N          logical GPUs (no hardware needed).
  resources={..}  other named resources, in whole units.

A task submitted with ``resources=`` runs on a second pool sized to the largest resource
total; the driver hands each task its own unit ids when it starts and takes them back
when it ends, so at most the declared units are ever in use. The task reads its units
with ``distlab.contracts.granted_units()`` (DISTLAB_RESOURCE_UNITS, and CUDA_VISIBLE_DEVICES
for GPUs, set around the call: distlab.engines.common.units).
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import weakref
from concurrent.futures import Future as PoolFuture
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import cloudpickle

from distlab.contracts import (
    DistlabError,
    EngineStartError,
    Future,
    RemoteTraceback,
    TaskEngine,
    TaskLost,
    UnsatisfiableResources,
)
from distlab.contracts.errors import call_capturing, with_remote_traceback
from distlab.engines.common.mainmodule import ForkServerContext
from distlab.engines.common.units import published_units
from distlab.engines.local.plugin import PLUGIN

# A task goes by value (cloudpickle) when the standard pickler cannot send its function
# (lambdas, closures), so the pool accepts what Ray and Dask accept, and when it would
# send something by name from __main__: a pool worker's __main__ is not the caller's
# (nothing at all for `python -c`, a notebook or `python -`), so the name would not be
# found there. The check is cached per callable.
_by_value_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _MainSpotter(pickle.Pickler):
    """Pickles into a scratch buffer, noting whether anything would go by name from
    __main__ (a function or class defined there, or an instance of such a class)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.from_main = False

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) or callable(obj):
            if getattr(obj, "__module__", None) == "__main__":
                self.from_main = True
        return NotImplemented  # pickle as usual


def _callable_by_value(fn: Any) -> bool:
    try:
        return _by_value_cache[fn]
    except (KeyError, TypeError):
        pass
    spotter = _MainSpotter()
    try:
        spotter.dump(fn)
        needs = spotter.from_main
    except Exception:
        needs = True
    try:
        _by_value_cache[fn] = needs
    except TypeError:  # not weak-referenceable (e.g. a builtin): checked each time
        pass
    return needs


def _by_value(fn: Any, args: tuple, kwargs: dict) -> bool:
    """Whether a call must go by value: its function, or a function among its arguments
    (map's chunks and recorded tasks of fault injection carry the user's function as an
    argument), or an argument that is an instance of a __main__ class."""
    for obj in (fn, *args, *kwargs.values()):
        if callable(obj):
            if _callable_by_value(obj):
                return True
        elif type(obj).__module__ == "__main__":
            return True
    return False


def _call_by_value(fn: Any, args: tuple, kwargs: dict) -> bytes:
    """On a worker: the call's outcome, cloudpickled. A value or exception whose class
    came by value (defined in the caller's __main__) cannot be sent by the standard
    pickler, and cloudpickle sends it back as the caller's own class (it tracks such
    classes by id), so the caller's ``except MyError`` still matches."""
    try:
        value = call_capturing(fn, args, kwargs)
    except BaseException as exc:  # the pool hands back BaseExceptions too
        return cloudpickle.dumps((False, exc))
    return cloudpickle.dumps((True, value))


def _run_cloudpickled(payload: bytes) -> bytes:
    fn, args, kwargs = cloudpickle.loads(payload)
    return _call_by_value(fn, args, kwargs)


def _warm() -> int:
    return os.getpid()


def _lost(exc: BrokenProcessPool) -> TaskLost:
    lost = TaskLost(f"a process-pool worker died; the task's result is lost ({exc})")
    lost.__cause__ = exc
    return lost


def _with_pool_traceback(exc: BaseException) -> BaseException:
    """The pool's own remote traceback (its ``_RemoteTraceback`` cause) as distlab's."""
    cause = exc.__cause__
    if not isinstance(cause, RemoteTraceback) and isinstance(getattr(cause, "tb", None), str):
        exc.__cause__ = RemoteTraceback(cause.tb)
    return exc


_PENDING = object()


class LocalFuture:
    """A pool future whose loss (BrokenProcessPool: a worker died and the pool failed
    every task it held) is raised as TaskLost; a task's own exception is raised as its
    type with the worker's traceback as ``__cause__``. ``by_value``: the pool's result
    is a cloudpickled outcome (_call_by_value), decoded once."""

    __slots__ = ("by_value", "inner", "_outcome")

    def __init__(self, inner: PoolFuture, by_value: bool = False):
        self.inner = inner
        self.by_value = by_value
        self._outcome: Any = _PENDING

    def result(self, timeout: float | None = None) -> Any:
        try:
            value = self.inner.result(timeout)
        except BrokenProcessPool as exc:
            raise _lost(exc) from exc
        except Exception as exc:
            _with_pool_traceback(exc)
            raise
        if not self.by_value:
            return value
        if self._outcome is _PENDING:
            self._outcome = cloudpickle.loads(value)
        ok, value = self._outcome
        if ok:
            return value
        raise with_remote_traceback(value) from value.__cause__

    def done(self) -> bool:
        return self.inner.done()


def _run_with_units(payload: bytes, units: dict[str, list[int]]) -> bytes:
    """Run a task with its granted unit ids published in its environment."""
    with published_units(units):
        return _run_cloudpickled(payload)


class _UnitScheduler:
    """Hands whole resource units to tasks in submission order as units come free."""

    def __init__(self, totals: dict[str, int]):
        self.totals = totals
        self.pool = ProcessPoolExecutor(max(totals.values()), mp_context=ForkServerContext())
        for f in [self.pool.submit(_warm) for _ in range(max(totals.values()))]:
            f.result()
        self._free = {name: list(range(total)) for name, total in totals.items()}
        self._waiting: list[tuple[bytes, dict[str, int], PoolFuture]] = []
        self._lock = threading.Lock()
        self._closed = False

    def check(self, resources: dict[str, float]) -> dict[str, int]:
        wanted: dict[str, int] = {}
        for name, amount in resources.items():
            if amount != int(amount) or amount < 0:
                raise DistlabError(
                    f"the local engine schedules whole units only, not {name}={amount:g}"
                )
            if amount > self.totals.get(name, 0):
                raise UnsatisfiableResources(
                    f"a task asks for {name}={amount:g} but the local engine has "
                    f"{name}={self.totals.get(name, 0):g} (declare more with gpus=/resources=)"
                )
            wanted[name] = int(amount)
        return wanted

    def submit(self, payload: bytes, wanted: dict[str, int]) -> PoolFuture:
        outer: PoolFuture = PoolFuture()
        with self._lock:
            if self._closed:
                raise DistlabError("the local engine is closed")
            self._waiting.append((payload, wanted, outer))
        self._dispatch()
        return outer

    def _dispatch(self) -> None:
        starting = []
        with self._lock:
            still_waiting = []
            for payload, wanted, outer in self._waiting:
                if outer.cancelled():
                    continue
                if all(len(self._free[n]) >= k for n, k in wanted.items()):
                    units = {n: self._free[n][:k] for n, k in wanted.items()}
                    for n, k in wanted.items():
                        del self._free[n][:k]
                    starting.append((payload, units, outer))
                else:
                    still_waiting.append((payload, wanted, outer))
            self._waiting = still_waiting
        # Submit outside the lock: a done callback may run at once and dispatch again.
        for payload, units, outer in starting:
            if not outer.set_running_or_notify_cancel():
                self._release(units)
                continue
            inner = self.pool.submit(_run_with_units, payload, units)
            inner.add_done_callback(lambda f, o=outer, u=units: self._finished(f, o, u))

    def _finished(self, inner: PoolFuture, outer: PoolFuture, units: dict[str, list[int]]) -> None:
        self._release(units)
        if inner.cancelled():
            outer.set_exception(DistlabError("the task was cancelled when the engine closed"))
        elif isinstance(inner.exception(), BrokenProcessPool):
            outer.set_exception(_lost(inner.exception()))
        elif inner.exception() is not None:
            outer.set_exception(inner.exception())
        else:
            outer.set_result(inner.result())
        if not self._closed:
            self._dispatch()

    def _release(self, units: dict[str, list[int]]) -> None:
        with self._lock:
            for n, ids in units.items():
                self._free[n] = sorted(self._free[n] + ids)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for _, _, outer in waiting:
            outer.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)


class LocalEngine(TaskEngine):
    name = "local"
    plugin = PLUGIN
    supports_resources = True
    address_help = "(none: the process pool runs on this machine only)"
    data_path = {
        "argument": "pickled through the pool's call queue (a pipe) to the worker",
        "result": "pickled back through the pool's result pipe",
        "shared": "by value: pickled into every task that uses it",
    }

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        #: broken pools replaced by a fresh one (a worker died)
        self.pool_restarts = 0
        self._pool: ProcessPoolExecutor | None = None
        #: the second pool for tasks that ask for resources (None: none declared)
        self._units: _UnitScheduler | None = None

    @classmethod
    def check_address(cls, address: str) -> None:
        raise EngineStartError("the local engine takes no --address (it is a process pool)")

    def _start(self) -> None:
        if self.address:
            self.check_address(self.address)
        self._pool = self._new_pool()
        totals = self._declared_resources()
        self._units = _UnitScheduler(totals) if totals else None

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: safe with the driver's threads (progress, memory sampler), fast to
        # fork; ours starts every process so that `python -` works (engines.common.mainmodule).
        pool = ProcessPoolExecutor(self.workers, mp_context=ForkServerContext())
        # Start every worker now, so start-up is measured apart from the work.
        for f in [pool.submit(_warm) for _ in range(self.workers)]:
            f.result()
        return pool

    def _healthy_pool(self) -> ProcessPoolExecutor:
        """The pool, replaced if a worker died: a broken ProcessPoolExecutor fails every
        task it still held (those are lost, as the standard library defines) and refuses
        new ones; a fresh pool lets later work go on."""
        if self._pool is None:
            raise DistlabError("the local engine is not started")
        if self._pool._broken:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self.pool_restarts += 1
        return self._pool

    def _declared_resources(self) -> dict[str, int]:
        totals = {k: int(v) for k, v in self.options["resources"].items() if v}
        if self.options["gpus"]:
            totals["GPU"] = self.options["gpus"]
        return totals

    def close(self) -> None:
        units, self._units = self._units, None
        if units is not None:
            units.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.started = False

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        kwargs = kwargs or {}
        if resources:
            units = self._units
            if units is None:
                raise UnsatisfiableResources(
                    f"a task asks for {resources} but the local engine declares no resources "
                    "(start it with gpus=N or resources={...})"
                )
            wanted = units.check(resources)
            payload = cloudpickle.dumps((fn, args, kwargs))
            return LocalFuture(units.submit(payload, wanted), by_value=True)
        pool = self._healthy_pool()
        if _by_value(fn, args, kwargs):
            payload = cloudpickle.dumps((fn, args, kwargs))
            return LocalFuture(pool.submit(_run_cloudpickled, payload), by_value=True)
        # importable functions go by name: the standard pickler, fastest
        return LocalFuture(pool.submit(fn, *args, **kwargs))

    def native_noop_tasks(self, n: int) -> list[Any]:
        from distlab.probes import noop

        pool = self._healthy_pool()
        return [f.result() for f in [pool.submit(noop, i) for i in range(n)]]

    def worker_pids(self) -> list[int]:
        pids = []
        for pool in (self._pool, self._units.pool if self._units is not None else None):
            if pool is not None and pool._processes:
                pids += list(pool._processes)
        return pids

    def resource_totals(self) -> dict[str, float]:
        units = self._units
        return {k: float(v) for k, v in units.totals.items()} if units is not None else {}

    def describe(self) -> dict[str, Any]:
        out = {"address": "embedded", "workers": self.workers, "start_method": "forkserver"}
        if self._units is not None:
            out["resources"] = self.resource_totals()
        return out
