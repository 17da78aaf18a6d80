"""Dask distributed: an embedded LocalCluster on 127.0.0.1, or an existing scheduler.

Tasks, batch and streams here; the dataframe shape (Dask DataFrame) in dataframe.py.

Options (``distlab.engine("dask", ..., **options)``), embedded start only:
  threads=N       threads per worker process (default 1).
  gpus=N          logical GPUs, split across the workers as evenly as possible: worker i
                  declares the resource {"GPU": k_i} and is started with its own unit ids
                  published in its environment (contracts.tasks.units_environment:
                  DISTLAB_RESOURCE_UNITS, and CUDA_VISIBLE_DEVICES, e.g. "0", "1"), which
                  a task reads with ``distlab.contracts.granted_units``. A worker holds
                  its units for every task it runs (Dask has no per-task device
                  assignment), so give it one thread per unit when tasks must not share one.
  resources={..}  other named resources, totals split across the workers the same way
                  (whole-unit totals get unit ids too; fractional ones have none).
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable
from typing import Any

import dask
import dask.bag
import distributed
import psutil
from distributed import Client, KilledWorker, LocalCluster

from distlab.contracts import (
    BatchEngine,
    Future,
    StreamEngine,
    TaskEngine,
    TaskLost,
    UnsatisfiableResources,
    chunked,
    units_environment,
)
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.engines.common.mainmodule import main_file_hidden
from distlab.engines.common.units import split_units
from distlab.engines.dask.dataframe import DaskDataframe
from distlab.engines.dask.futures import (
    LIVENESS_INTERVAL_S,
    NO_WORKER_GRACE_S,
    DaskActor,
    DaskFuture,
    lost_task,
    seceded,
)
from distlab.engines.dask.plugin import PLUGIN
from distlab.procs import stop_pids

_SCHEDULER_DEFAULT_PORT = 8786
_CONNECT_TIMEOUT = "8s"
# Task failures reach the caller as exceptions; the workers' own ERROR log lines for them
# (and harmless CommClosedError tracebacks at shutdown) would only duplicate that as noise.
_WORKER_LOG_LEVEL = logging.CRITICAL


class DaskEngine(TaskEngine, BatchEngine, StreamEngine, DaskDataframe):
    name = "dask"
    plugin = PLUGIN
    supports_resources = True
    supports_actors = True
    supports_shared_objects = True
    address_help = "tcp://host:port of a dask scheduler (dask scheduler --port P)"
    data_path = {"argument": "pickled into the task graph: client -> scheduler -> worker (TCP)",
                 "result": "kept in the worker's memory; the client fetches it over TCP",
                 "shared": "scatter(broadcast=True): one copy sent to every worker, once"}  # fmt: skip

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self.client: Client | None = None
        self.cluster: LocalCluster | None = None
        self._worker_procs: list[psutil.Process] = []
        self._scratch: str | None = None
        # resources of each worker as last seen (refreshed when a request does not fit)
        self._known_workers: list[dict[str, float]] = []
        self._no_workers_since: float | None = None

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        # Client retries a closed port until its timeout: fail in seconds instead.
        host, port = endpoint(cls.name, address, _SCHEDULER_DEFAULT_PORT, "tcp://host:port")
        require_answer(cls.name, address, host, port)

    def _start(self) -> None:
        if self.address:
            self._connect(self.address)
        else:
            self._start_embedded()

    def _connect(self, address: str) -> None:
        self.check_address(address)
        if "://" not in address:
            address = f"tcp://{address}"
        self.client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        self.workers = sum(w.get("nthreads", 1) for w in info.values())

    def _start_embedded(self) -> None:
        n = self.workers
        threads = self.options["threads"]
        # Unlimited saturation: the scheduler sends every ready task to the workers at
        # once instead of holding back a queue; many tiny tasks run ~2x faster so.
        # The scheduler runs in this process, so the setting applies at its creation.
        # main_file_hidden: the nannies can start workers under `python -` (not restart them)
        saturation = {"distributed.scheduler.worker-saturation": float("inf")}
        # the scheduler's and workers' directories (spill, shuffle files, Dask's lock
        # files) in a folder of ours, removed at close; Dask's default, the system's temp
        # dir, keeps a dask-scratch-space there for good
        self._scratch = tempfile.mkdtemp(prefix="distlab-dask-")
        scratch = {"temporary-directory": self._scratch}
        with dask.config.set({**saturation, **scratch}), main_file_hidden():
            self.cluster = LocalCluster(
                local_directory=self._scratch,
                n_workers=0,
                threads_per_worker=threads,
                processes=True,
                host="127.0.0.1",
                # None would still serve HTTP on port 8787: ask for a free port instead.
                dashboard_address="127.0.0.1:0",
                silence_logs=_WORKER_LOG_LEVEL,
            )
            # One spec per worker, so each can hold its own share of the resources.
            template = self.cluster.new_spec
            for i, (resources, env) in enumerate(self._per_worker_resources(n)):
                options = {**template["options"], "memory_limit": "auto"}
                if resources:
                    options["resources"] = resources
                if env:
                    options["env"] = env
                self.cluster.worker_spec[i] = {"cls": template["cls"], "options": options}
            self.cluster.scale(n)
            self.client = Client(self.cluster, set_as_default=False)
            self.client.wait_for_workers(n, timeout=60)
        self._worker_procs = self._live_worker_processes()

    def _per_worker_resources(self, n: int) -> list[tuple[dict[str, float], dict[str, str]]]:
        """(resources, environment) of each worker: its share of every total, and the ids
        of its whole units published as every engine publishes a task's grant."""
        totals = dict(self.options["resources"])
        if self.options["gpus"]:
            totals["GPU"] = self.options["gpus"]
        shares: list[dict[str, float]] = [{} for _ in range(n)]
        units: list[dict[str, list[int]]] = [{} for _ in range(n)]
        for name, total in totals.items():
            next_unit = 0
            for i, share in enumerate(split_units(total, n)):
                if share:
                    shares[i][name] = share
                if float(total).is_integer():  # whole units: worker i holds ids of its own
                    units[i][name] = list(range(next_unit, next_unit + int(share)))
                    next_unit += int(share)
        return [(shares[i], units_environment(units[i]) if units[i] else {}) for i in range(n)]

    def _live_worker_processes(self) -> list[psutil.Process]:
        procs = []
        for pid in self.worker_pids():
            try:
                procs.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return procs

    def close(self) -> None:
        # closed with tasks in flight (a map cut off by its caller), our in-process
        # scheduler logs every result it can no longer send as CRITICAL, with a traceback
        # each: thousands of lines about a close that was asked for
        dask_log = logging.getLogger("distributed")
        level = dask_log.level
        dask_log.setLevel(logging.CRITICAL + 1)
        try:
            self._close()
        finally:
            dask_log.setLevel(level)

    def _close(self) -> None:
        ours = []
        if self.cluster is not None:
            # The workers of now plus any started since (a restarted worker has a new PID).
            ours = list(self._worker_procs) + self._live_worker_processes()
        try:
            if self.client is not None:
                self.client.close()
        finally:
            self.client = None
            try:
                if self.cluster is not None:
                    self.cluster.close()
            finally:
                self.cluster = None
                leftovers = [p.pid for p in ours if p.is_running()]
                if leftovers:
                    stop_pids(leftovers)
                self._worker_procs = []
                self.started = False
                if self._scratch:
                    shutil.rmtree(self._scratch, ignore_errors=True)
                    self._scratch = None

    # -- tasks -----------------------------------------------------------------------
    def _worker_resources(self) -> list[dict[str, float]]:
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return [dict(w.get("resources") or {}) for w in workers]

    def _check_satisfiable(self, resources: dict[str, float]) -> None:
        # Dask keeps a task no worker can run waiting forever; fail at submit instead.
        # No single worker may hold enough even if the sum does: check per worker.
        def fits(workers: list[dict[str, float]]) -> bool:
            return any(all(w.get(k, 0) >= v for k, v in resources.items()) for w in workers)

        if fits(self._known_workers):
            return
        self._known_workers = self._worker_resources()  # workers may have joined
        if fits(self._known_workers):
            return
        totals = self.resource_totals()
        wanted = ", ".join(f"{k}={v:g}" for k, v in resources.items())
        have = ", ".join(f"{k}={totals.get(k, 0):g}" for k in resources)
        raise UnsatisfiableResources(f"no Dask worker can hold {wanted} (cluster totals: {have})")

    def map(self, fn, items, *, chunksize: int | None = None) -> list:
        if chunksize and chunksize > 1:  # each chunk's results sent as one object
            chunks = chunked(list(items), chunksize)
            futures = [self.submit(_apply_chunk_whole, fn, c) for c in chunks]
            return [r for part in self.gather(futures) for r in part]
        return super().map(fn, items, chunksize=chunksize)

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            self._check_satisfiable(resources)
        if kwargs:
            # The user's keywords must not collide with submit's own (key=, workers=, ...).
            fn = functools.partial(fn, **kwargs)
        future = self.client.submit(fn, *args, pure=False, resources=resources)
        return DaskFuture(future, self._check_alive if self.cluster is not None else None)

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        futures = list(futures)
        if not all(isinstance(f, DaskFuture) for f in futures) or any(
            not isinstance(f.inner, distributed.Future) for f in futures
        ):
            return super().gather(futures)
        inner = [f.inner for f in futures]
        try:
            if self.cluster is not None:  # ours: wait in slices, watching the workers
                while True:
                    try:
                        with self.client.as_current():  # wait() asks for a default client
                            distributed.wait(inner, timeout=LIVENESS_INTERVAL_S)
                        break
                    except TimeoutError:
                        self._check_alive()
            return self.client.gather(inner)
        except Exception as exc:
            # Raise the first failure in submission order, with its remote traceback.
            for f in futures:
                if f.inner.status == "error":
                    f.result()
            if isinstance(exc, KilledWorker):
                raise lost_task(exc) from exc
            raise

    def native_noop_tasks(self, n: int) -> list[Any]:
        from distlab.probes import noop

        # Dask's own API: client.submit and client.gather, nothing of ours in between
        return self.client.gather([self.client.submit(noop, i, pure=False) for i in range(n)])

    def map_reduce(self, paths, mapper, reducer) -> dict[Any, Any]:
        """Dask's own batch API: a bag of lines (one partition per file), the mapper's
        pairs folded by key within partitions and then across them (foldby)."""

        def fold(a: tuple, b: tuple) -> tuple:
            return a[0], reducer(a[1], b[1])

        pairs = dask.bag.read_text(list(paths)).map(lambda line: list(mapper(line))).flatten()
        folded = pairs.foldby(lambda kv: kv[0], fold, combine=fold)
        return {key: kv[1] for key, kv in self.client.compute(folded).result()}

    def share(self, obj: Any) -> Any:
        # hash=False: hashing a large object to name it costs more than it saves.
        return self.client.scatter(obj, broadcast=True, hash=False)

    def run_stream(self, spec):
        """Streams: distlab's Kafka processors in long-running Dask tasks that secede from
        their worker's thread pool (engines/hosted_streams.py)."""
        from distlab.engines.common.hosted_streams import run_hosted

        def host(fn, *args):
            return self.submit(seceded, fn, *args)

        return run_hosted(self, spec, host, "long-running Dask tasks (seceded)")

    def create_actor(self, cls: type, *args: Any, **kwargs: Any) -> DaskActor:
        with self.client.as_current():
            proxy = self.client.submit(cls, *args, actor=True, **kwargs).result()
        return DaskActor(proxy, self.client)

    def resource_totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for w in self._worker_resources():
            for k, v in w.items():
                totals[k] = totals.get(k, 0) + v
        return totals

    # -- liveness ----------------------------------------------------------------------
    def _live_workers(self) -> list[int]:
        alive = []
        for pid in self.worker_pids():
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.Error:
                continue
        return alive

    def _check_alive(self) -> None:
        """Between the slices of a wait: an embedded cluster whose every worker process
        died and none came back within NO_WORKER_GRACE_S cannot finish anything (Dask
        would wait for a worker forever): TaskLost."""
        if self.cluster is None or self._live_workers():
            self._no_workers_since = None
            return
        now = time.monotonic()
        if self._no_workers_since is None:
            self._no_workers_since = now
        elif now - self._no_workers_since >= NO_WORKER_GRACE_S:
            raise TaskLost(
                f"every dask worker process died and none came back within "
                f"{NO_WORKER_GRACE_S:g} s: the tasks waiting for one are lost"
            )

    def health(self) -> str | None:
        if self.cluster is not None and self.started and not self._live_workers():
            return "the embedded dask cluster has no live worker process"
        return None

    # -- observation -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        # Workers of a scheduler we did not start are not ours to kill: embedded only.
        if self.cluster is None:
            return []
        # Each nanny (in this process) knows the PID of the worker process it runs.
        return sorted(n.pid for n in list(self.cluster.workers.values()) if n.pid)

    def process_roots(self) -> list[int]:
        return self.worker_pids()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address or "embedded",
            "workers": self.workers,
            "threads_per_worker": self.options["threads"] if not self.address else None,
            "distributed": distributed.__version__,
        }
        if self.client is not None:
            out["scheduler"] = self.client.scheduler.address
            out["resources"] = self.resource_totals()
        return out


class WholeList(list):
    """A chunk's results as one object on the wire. Dask serializes a result that is a
    plain list (or tuple, set, dict) element by element, each its own pickle and frame:
    measured here (Dask 2026.8.0), gathering 8 lists of 25,000 ints took 3.7 s, and the
    same lists as this subclass 0.01 s."""


def _apply_chunk_whole(fn, chunk) -> WholeList:
    return WholeList(fn(item) for item in chunk)
