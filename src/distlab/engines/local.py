"""The standard-library process pool: always available, the reference engine.

Options (``distlab.engine("local", ..., **options)``):
  gpus=N          logical GPUs (no hardware needed).
  resources={..}  other named resources, in whole units.

A task submitted with ``resources=`` runs on a second pool sized to the largest resource
total; the driver hands each task its own unit ids when it starts and takes them back
when it ends, so at most the declared units are ever in use. The task reads its units
with ``distlab.contracts.granted_units()`` (DISTLAB_RESOURCE_UNITS, and CUDA_VISIBLE_DEVICES
for GPUs, set around the call: distlab.engines.units).
"""

from __future__ import annotations

import multiprocessing
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
    TaskEngine,
    TaskLost,
    UnsatisfiableResources,
)
from distlab.contracts.tasklog import recorded_target
from distlab.engines.units import published_units

# Functions the standard pickler cannot send (lambdas, closures) go through cloudpickle,
# so the pool accepts what Ray and Dask accept. The check is cached per function.
_needs_cloudpickle: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _run_cloudpickled(payload: bytes) -> Any:
    fn, args, kwargs = cloudpickle.loads(payload)
    return fn(*args, **kwargs)


def _warm() -> int:
    return os.getpid()


def _lost(exc: BrokenProcessPool) -> TaskLost:
    lost = TaskLost(f"a process-pool worker died; the task's result is lost ({exc})")
    lost.__cause__ = exc
    return lost


class LocalFuture:
    """A pool future whose loss (BrokenProcessPool: a worker died and the pool failed
    every task it held) is raised as TaskLost; a task's own exception is unchanged."""

    __slots__ = ("inner",)

    def __init__(self, inner: PoolFuture):
        self.inner = inner

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self.inner.result(timeout)
        except BrokenProcessPool as exc:
            raise _lost(exc) from exc

    def done(self) -> bool:
        return self.inner.done()


def _run_with_units(payload: bytes, units: dict[str, list[int]]) -> Any:
    """Run a task with its granted unit ids published in its environment."""
    with published_units(units):
        fn, args, kwargs = cloudpickle.loads(payload)
        return fn(*args, **kwargs)


class _UnitScheduler:
    """Hands whole resource units to tasks in submission order as units come free."""

    def __init__(self, totals: dict[str, int]):
        self.totals = totals
        self.pool = ProcessPoolExecutor(
            max(totals.values()), mp_context=multiprocessing.get_context("forkserver")
        )
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
    supports_resources = True
    address_help = "(none: the process pool runs on this machine only)"

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
        # forkserver: safe with the driver's threads (progress, memory sampler), fast to fork.
        pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("forkserver")
        )
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
        totals = {k: int(v) for k, v in (self.options.get("resources") or {}).items() if v}
        if self.options.get("gpus"):
            totals["GPU"] = int(self.options["gpus"])
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
            return units.submit(cloudpickle.dumps((fn, args, kwargs)), wanted)
        # a recorded task (fault injection) carries the user's function as an argument
        target = recorded_target(fn, args)
        try:
            needs = _needs_cloudpickle[target]
        except KeyError:
            try:
                pickle.dumps(target)
                needs = False
            except Exception:
                needs = True
            try:
                _needs_cloudpickle[target] = needs
            except TypeError:  # not weak-referenceable (e.g. a builtin): picklable anyway
                pass
        pool = self._healthy_pool()
        if needs:
            return LocalFuture(
                pool.submit(_run_cloudpickled, cloudpickle.dumps((fn, args, kwargs)))
            )
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
