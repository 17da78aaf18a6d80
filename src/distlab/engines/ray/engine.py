"""Ray: an embedded single-node cluster started by ``ray.init``, or an existing cluster.

Options (``distlab.engine("ray", ..., **options)``), embedded start only:
  gpus=N          logical GPUs (no hardware needed); tasks asking {"GPU": 1} get a distinct
                  id from Ray, which the task reads with ``distlab.contracts.granted_units``.
  resources={..}  custom named resources of the node.

A task that asks for resources runs inside a wrapper (``run_with_units``) that publishes
the accelerator ids Ray assigned to it (``get_accelerator_ids()``: GPUs and other
accelerators; Ray assigns no ids for custom resources) as every engine does
(distlab.contracts.tasks.units_environment).

Batch: ``map_reduce`` is distlab's task map/reduce (one task per file), not a Ray Data
pipeline: ``map_reduce_native`` is False.

Dataframe: queries in Ray Data's API on the same cluster (dataframe.py).

Network: Ray's gcs_server and raylet listen on all interfaces whatever they are told;
they cannot be confined to loopback. Use the embedded cluster on trusted machines only.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import psutil
import ray
from ray.exceptions import RayTaskError

from distlab.contracts import (
    BatchEngine,
    EngineStartError,
    Future,
    StreamEngine,
    TaskEngine,
    UnsatisfiableResources,
    task_map_reduce,
)
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.engines.common.units import temporary_environment
from distlab.engines.ray.dataframe import RayDataframe
from distlab.engines.ray.futures import (
    LOSSES,
    RayActor,
    RayFuture,
    apply_callable,
    raise_lost,
    raise_original,
    run_with_units,
    task_options,
)
from distlab.engines.ray.plugin import PLUGIN
from distlab.procs import stop_pids

# Where Ray's own executables and scripts live: how we tell its processes from others.
_RAY_DIR = os.path.dirname(ray.__file__)
# Ray names its helper processes "ray::<Name>"; these are not task workers (nor are Ray
# Data's bookkeeping actors, started by its first dataset and kept for the session).
_RAY_HELPERS = (
    "ray::DashboardAgent",
    "ray::RuntimeEnvAgent",
    "ray::_StatsActor",
    "ray::_AutoscalingCoordinatorActor",
)
#: idle workers the raylet keeps beyond one per CPU. Its default (one per CPU, counting
#: actors) made a Ray Data query start most of its tasks in new worker processes, each
#: importing Ray Data again: TPC-H Q6 at SF 0.01 took 8 s, 0.3 s with workers kept
_SPARE_WORKERS = 4
_GCS_DEFAULT_PORT = 6379
_CLIENT_DEFAULT_PORT = 10001
#: Ray Client's proxier starts a server process per client; on 2 busy cores that start
#: sometimes fails (about one test-host deployment in ten) and the next attempt works
_CLIENT_ATTEMPTS, _CLIENT_START_FAILURES = 3, ("Initialization failure", "client server failed")


class RayEngine(TaskEngine, BatchEngine, StreamEngine, RayDataframe):
    name = "ray"
    plugin = PLUGIN
    supports_resources = True
    supports_actors = True
    supports_shared_objects = True
    address_help = "host:port of a Ray head's GCS (ray start --head --port P), or ray://host:port"
    data_path = {
        "argument": "above 100 KB put in Ray's object store (shared memory) by the driver; "
        "the worker maps NumPy arrays from it without a copy",
        "result": "above 100 KB kept in the worker node's object store; the driver reads it "
        "from shared memory",
        "shared": "ray.put once: every task maps the same shared-memory copy (zero-copy NumPy)",
    }
    #: map_reduce runs on distlab's tasks (contracts.batch.task_map_reduce)
    map_reduce_native = False

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self._temp_dir: str | None = None
        self._children_before: set[int] = set()
        self._totals: dict[str, float] = {}
        # fn -> {resource key: remote function}; weak so user functions can be freed.
        self._remote_fns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._remote_fns_strong: dict[Any, dict] = {}
        self._actor_classes: dict[type, Any] = {}
        self._stream_actors: Any = None  # hosted_streams.KeptActors, from the first stream
        self._native_noop: Any = None
        # True from our ray.init until our ray.shutdown: close() never ends another
        # engine's Ray session in this process.
        self._owns_session = False
        #: ray.init attempts to reach a given cluster (see _connect)
        self._connect_attempts = 0

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        # ray.init retries an unreachable GCS for a long time: test the port first.
        default = _CLIENT_DEFAULT_PORT if address.startswith("ray://") else _GCS_DEFAULT_PORT
        host, port = endpoint(cls.name, address, default, "host:port or ray://host:port")
        require_answer(cls.name, address, host, port)

    def _start(self) -> None:
        if ray.is_initialized():
            raise EngineStartError(
                "Ray is already initialized in this process (one Ray engine per process)"
            )
        # Token authentication (on by default in Ray 2.60) would make the CLI-started
        # clusters and this driver disagree; usage stats would phone home. Both are set
        # for the whole process because Ray's child processes read them from the env.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet = {"logging_level": "ERROR", "log_to_driver": False}
        if self.address:
            self.check_address(self.address)
            self._owns_session = True
            self._connect(quiet)
        else:
            self._start_embedded(quiet)
        self._totals = self._read_totals()
        if self.address:
            self.workers = int(self._totals.get("CPU", 0))

    def _connect(self, quiet: dict[str, Any]) -> None:
        """ray.init to the given cluster, again while its client server fails to start."""
        for attempt in range(1, _CLIENT_ATTEMPTS + 1):
            self._connect_attempts = attempt
            try:
                ray.init(address=self.address, **quiet)
                return
            except Exception as exc:
                if attempt == _CLIENT_ATTEMPTS or not any(
                    text in str(exc) for text in _CLIENT_START_FAILURES
                ):
                    raise
                ray.shutdown()
                time.sleep(2.0)

    def _start_embedded(self, quiet: dict[str, Any]) -> None:
        self._children_before = {p.pid for p in psutil.Process().children()}
        # A temp dir of our own: sessions, sockets and logs never mix with other Ray
        # clusters on the machine, and address="local" never joins one by accident.
        # Kept short: Ray's socket paths must fit in 107 bytes, and the session's part
        # of them takes some 63 (a long TMPDIR, e.g. a bench's per-engine one, is passed
        # over for the system's).
        root = tempfile.gettempdir()
        self._temp_dir = tempfile.mkdtemp(
            prefix="distlab-ray-", dir=root if len(root) <= 24 else "/tmp"
        )
        extra: dict[str, Any] = {}
        if self.options["gpus"] is not None:
            extra["num_gpus"] = self.options["gpus"]
        if self.options["resources"]:
            extra["resources"] = dict(self.options["resources"])
        self._owns_session = True
        # Workers import the driver's modules (functions pickled by reference, e.g. from
        # a script's or a test's directory): the raylet started here, and the workers it
        # starts, inherit PYTHONPATH from this process.
        python_path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        with temporary_environment({"PYTHONPATH": python_path}):
            ray.init(
                address="local",
                num_cpus=self.workers,
                include_dashboard=False,
                _system_config={"num_workers_soft_limit": self.workers + _SPARE_WORKERS},
                _temp_dir=self._temp_dir,
                **quiet,
                **extra,
            )

    def _ray_processes(self) -> list[psutil.Process]:
        """Processes the embedded cluster started: the driver's new children that run
        Ray's executables, and all their descendants (workers, agents). None when
        connected to a cluster we did not start."""
        found: dict[int, psutil.Process] = {}
        if self._temp_dir is None:
            return []
        for child in psutil.Process().children():
            if child.pid in self._children_before:
                continue
            try:
                if not any(_RAY_DIR in part for part in child.cmdline()):
                    continue
                found[child.pid] = child
                for grandchild in child.children(recursive=True):
                    found[grandchild.pid] = grandchild
            except psutil.Error:
                continue
        return list(found.values())

    def close(self) -> None:
        ours = self._ray_processes()
        try:
            if self._owns_session and ray.is_initialized():
                ray.shutdown()
            self._owns_session = False
        finally:
            # ray.shutdown stops gcs/raylet; workers orphaned on the way may outlive it.
            leftovers = [p.pid for p in ours if p.is_running()]
            if leftovers:
                stop_pids(leftovers)
            if self._temp_dir:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None
            self._remote_fns = weakref.WeakKeyDictionary()
            self._remote_fns_strong.clear()
            self._actor_classes.clear()
            self._stream_actors = self._native_noop = None
            self.started = False

    # -- tasks -----------------------------------------------------------------------
    def _remote(self, fn: Callable[..., Any], resources: dict[str, float] | None) -> Any:
        """The remote function that runs ``fn``: the function itself (Ray names the task
        after it), or a carrier that takes it as its first argument (callables Ray
        refuses, and resource tasks, whose units are published by run_with_units)."""
        key = tuple(sorted(resources.items())) if resources else ()
        try:
            per_fn = self._remote_fns.setdefault(fn, {})
        except TypeError:  # not weak-referenceable
            per_fn = self._remote_fns_strong.setdefault(fn, {})
        remote = per_fn.get(key)
        if remote is None:
            if resources:
                remote = ray.remote(run_with_units).options(**task_options(resources))
            else:
                remote = ray.remote(fn if inspect.isfunction(fn) else apply_callable)
            per_fn[key] = remote
        return remote

    def _check_satisfiable(self, resources: dict[str, float]) -> None:
        def short(totals):
            return [k for k, v in resources.items() if v > totals.get(k, 0)]

        if short(self._totals):
            self._totals = self._read_totals()  # the cluster may have grown
            missing = short(self._totals)
            if missing:
                wanted = ", ".join(f"{k}={resources[k]:g}" for k in missing)
                have = ", ".join(f"{k}={self._totals.get(k, 0):g}" for k in missing)
                raise UnsatisfiableResources(
                    f"task asks for {wanted} but the Ray cluster has {have} in total"
                )

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            self._check_satisfiable(resources)
        remote = self._remote(fn, resources)
        if resources:
            call_args = (tuple(resources), fn, *args)
        elif inspect.isfunction(fn):
            call_args = tuple(args)
        else:
            call_args = (fn, *args)
        return RayFuture(remote.remote(*call_args, **(kwargs or {})))

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        futures = list(futures)
        if not all(isinstance(f, RayFuture) for f in futures):
            return super().gather(futures)
        try:
            return ray.get([f.ref for f in futures])
        except RayTaskError as exc:
            raise_original(exc)
        except LOSSES as exc:
            raise_lost(exc)

    def share(self, obj: Any) -> Any:
        return ray.put(obj)

    def native_noop_tasks(self, n: int) -> list[Any]:
        from distlab.probes import noop

        # Ray's own API: @ray.remote function, .remote(), ray.get on the list
        if self._native_noop is None:
            self._native_noop = ray.remote(noop)
        return ray.get([self._native_noop.remote(i) for i in range(n)])

    # -- batch -------------------------------------------------------------------------
    def map_reduce(self, paths, mapper, reducer) -> dict[Any, Any]:
        """distlab's task map/reduce: one Ray task per file (mapper plus a local
        combine), the final reduce in the driver."""
        return task_map_reduce(self, paths, mapper, reducer)

    def run_stream(self, spec):
        """Streams: distlab's Kafka processors in Ray actors kept between streams
        (engines/hosted_streams.py); an actor holds no CPU while it runs, so they never
        starve the task slots."""
        from distlab.engines.common.hosted_streams import KeptActors, LongRunning

        if self._stream_actors is None:
            self._stream_actors = KeptActors(lambda: self.create_actor(LongRunning))
        hosted_in = "Ray actors (one per processor, kept between streams)"
        return self._stream_actors.run_stream(self, spec, hosted_in)

    def create_actor(self, cls: type, *args: Any, **kwargs: Any) -> RayActor:
        remote_cls = self._actor_classes.get(cls)
        if remote_cls is None:
            remote_cls = self._actor_classes[cls] = ray.remote(cls)
        return RayActor(remote_cls.remote(*args, **kwargs))

    def spill_folders(self) -> list[str]:
        # Ray spills its object store (Ray Data's blocks among them) into the session
        # directory, one folder per node; a cluster we did not start spills on its nodes
        if not self._temp_dir or not ray.is_initialized():
            return []
        node = ray.get_runtime_context().get_node_id()
        return [os.path.join(self._temp_dir, "session_latest", f"ray_spilled_objects_{node}")]

    def _read_totals(self) -> dict[str, float]:
        return {k: float(v) for k, v in ray.cluster_resources().items()}

    def resource_totals(self) -> dict[str, float]:
        # Only what a task can ask for: not Ray's per-node bookkeeping entries.
        return {k: v for k, v in self._read_totals().items() if not k.startswith("node:")}

    # -- observation -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        # Workers of a cluster we did not start are not ours to kill: embedded only.
        pids = []
        for p in self._ray_processes():
            try:
                name = p.name()
            except psutil.Error:
                continue
            if name.startswith("ray::") and not name.startswith(_RAY_HELPERS):
                pids.append(p.pid)
        return pids

    def process_roots(self) -> list[int]:
        return [p.pid for p in self._ray_processes()]

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "workers": self.workers,
            "ray": ray.__version__,
            "resources": self.resource_totals() if self.started else {},
            "network": "gcs_server and raylet listen on all interfaces",
            "connect_attempts": self._connect_attempts or None,
        }
