"""The standard-library process pool: always available, the reference engine."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import weakref
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle

from distlab.engine import DistlabError, Engine, Future

# Functions the standard pickler cannot send (lambdas, closures) go through cloudpickle,
# so the pool accepts what Ray and Dask accept. The check is cached per function.
_needs_cloudpickle: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _run_cloudpickled(payload: bytes) -> Any:
    fn, args, kwargs = cloudpickle.loads(payload)
    return fn(*args, **kwargs)


def _warm() -> int:
    return os.getpid()


class LocalEngine(Engine):
    name = "local"
    libraries = ()
    address_help = "(none: the process pool runs on this machine only)"

    def start(self) -> LocalEngine:
        if self.started:
            return self
        if self.address:
            raise DistlabError("the local engine takes no --address (it is a process pool)")
        n = self.workers or os.cpu_count() or 1
        self.workers = n
        # forkserver: safe with the driver's threads (progress, memory sampler), fast to fork.
        self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("forkserver"))
        # Start every worker now, so start-up is measured apart from the work.
        for f in [self._pool.submit(_warm) for _ in range(n)]:
            f.result()
        self.started = True
        return self

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.started = False

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            raise DistlabError("the local engine does not schedule by resources")
        kwargs = kwargs or {}
        try:
            needs = _needs_cloudpickle[fn]
        except KeyError:
            try:
                pickle.dumps(fn)
                needs = False
            except Exception:
                needs = True
            try:
                _needs_cloudpickle[fn] = needs
            except TypeError:  # not weak-referenceable (e.g. a builtin): picklable anyway
                pass
        if needs:
            return self._pool.submit(_run_cloudpickled, cloudpickle.dumps((fn, args, kwargs)))
        return self._pool.submit(fn, *args, **kwargs)

    def worker_pids(self) -> list[int]:
        pool = getattr(self, "_pool", None)
        return list(pool._processes) if pool is not None and pool._processes else []

    def describe(self) -> dict[str, Any]:
        return {"address": "embedded", "workers": self.workers, "start_method": "forkserver"}
