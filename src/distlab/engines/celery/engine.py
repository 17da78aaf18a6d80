"""Celery: tasks through a broker (Redis, or RabbitMQ) to a prefork worker pool.

Without an address the engine starts its own Redis on 127.0.0.1 (broker and result
backend); with ``redis://host:port/db`` or ``amqp://...`` it uses the user's server.
Either way it starts its own worker process (`celery worker --pool=prefork`) consuming a
queue unique to this engine instance, and stops it by PID on close.

Options (``distlab.engine("celery", ..., **options)``; declared in plugin.py):
  gpus=N / resources={..}  a dedicated worker and queue per resource, pool child i
                     holding unit i (distlab.engines.celery.app); a task takes one unit.
  queue              serve tasks through this queue, whose workers were started elsewhere
                     (``distlab run --hosts``, engines/celery/hosts.py): no worker here.
  durable_broker     the embedded Redis writes an append-only file (``--kill-broker``).
  acks_late, visibility_timeout, prefetch_multiplier, pool, backend: as Celery's own.

The embedded Redis is watched: once it has been dead for BROKER_GRACE_S, waiting callers
get BrokerLost naming it (a restart within that time, with its data, goes unnoticed but
for the wait) instead of waiting for results that cannot come.

Results are collected by distlab.engines.celery.results (futures, liveness checks).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import cloudpickle
import kombu.exceptions

from distlab.contracts import (
    BrokerLost,
    DistlabError,
    EngineStartError,
    Future,
    TaskEngine,
    UnsatisfiableResources,
    chunked,
)
from distlab.contracts.measured import Loss
from distlab.engines.celery.app import (
    NOOP_TASK,
    RUN_CHUNK_TASK,
    RUN_TASK,
    make_app,
)
from distlab.engines.celery.plugin import PLUGIN
from distlab.engines.celery.results import (
    CeleryFuture,
    collect,
    drop_result_subscriptions,
    unreachable,
)
from distlab.engines.celery.workers import WorkerProcesses
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.procs import stop_pids
from distlab.services.redis_server import RedisServer, redis_version

#: seconds the embedded Redis may be dead (a supervisor restarting it), or a user's broker
#: unreachable, before callers are told it is lost
BROKER_GRACE_S = 3.0
#: a broker that is running but still cannot be reached after this long is lost too
UNREACHABLE_LIMIT_S = 15.0
#: how the driver retries reaching its result store inside one wait (seconds)
DRIVER_STORE_RETRY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "amqp": 5672, "pyamqp": 5672, "amqps": 5671}
# As root Celery refuses pickle unless C_FORCE_ROOT is set, then warns on every start.


class CeleryEngine(WorkerProcesses, TaskEngine):
    name = "celery"
    plugin = PLUGIN
    needs_server = True
    server = "broker and result backend"

    @classmethod
    def server_version(cls) -> str:
        return redis_version()

    supports_resources = True
    address_help = (
        "redis://host:port/db (broker and result backend) or amqp://user:pass@host:port// "
        "(RabbitMQ; results via rpc://)"
    )
    data_path = {
        "argument": "cloudpickled into the task message, held whole in the broker (Redis)",
        "result": "pickled into the result backend (Redis); the driver reads it from there",
        "shared": "by value: pickled into every task message that uses it",
    }

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        #: seconds before the unacked tasks of a worker that died come back; tasks that
        #: run longer than this may be delivered twice (kombu's Redis transport)
        self.visibility_timeout: float = self.options["visibility_timeout"]
        self.prefetch_multiplier: int = self.options["prefetch_multiplier"]
        self.result_backend: str | None = self.options["backend"]
        self._resource_totals = {k: int(v) for k, v in self.options["resources"].items()}
        if self.options["gpus"]:
            self._resource_totals["GPU"] = self.options["gpus"]
        self.durable_broker: bool = self.options["durable_broker"]
        self._redis: RedisServer | None = None
        #: when the embedded Redis was first seen dead (None: alive)
        self._broker_dead_since: float | None = None
        self._connection_errors: tuple[type[BaseException], ...] = ()
        #: queue -> worker process serving it (the first one runs unconstrained tasks)
        self._workers: dict[str, subprocess.Popen] = {}
        self._finalizers: list[weakref.finalize] = []
        self._workdir: str | None = None
        self._app = None
        self._run = self._run_chunk = None  # the app's two task entry points
        self._queue = ""
        self._broker_label = ""
        #: every task given up on (distlab.contracts.measured.NoticesLosses)
        self.losses: list[Loss] = []

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def _broker_endpoint(cls, address: str) -> tuple[str, str, int]:
        """(scheme, host, port) of a redis:// or amqp:// URL."""
        scheme = address.split("://", 1)[0].lower() if "://" in address else ""
        if scheme not in DEFAULT_PORTS:
            raise EngineStartError(
                f"celery address must be redis://host:port/db or amqp://host:port//, "
                f"got {address!r}"
            )
        host, port = endpoint(cls.name, address, DEFAULT_PORTS[scheme], f"{scheme}://host:port")
        return scheme, host, port

    @classmethod
    def check_address(cls, address: str) -> None:
        """A redis:// or amqp:// URL with a server answering on its port (a plain TCP
        check: Celery itself would retry connecting for a long time)."""
        scheme, host, port = cls._broker_endpoint(address)
        # no credentials in the message: amqp://user:password@host names them
        require_answer(cls.name, f"{scheme}://{host}:{port}", host, port)

    def _start(self) -> None:
        # with queue=..., workers started elsewhere serve it, and QUEUE.RESOURCE for each
        # resource total declared (e.g. a test-host deployment's GPU worker)
        given_queue = self.options["queue"]
        broker, backend = self._broker_and_backend()
        self._queue = given_queue or f"distlab-{uuid.uuid4().hex[:12]}"
        config = {
            "broker": broker,
            "backend": backend,
            "queue": self._queue,
            "visibility_timeout": self.visibility_timeout,
            "prefetch_multiplier": self.prefetch_multiplier,
            "acks_late": self.options["acks_late"],
        }
        self._app = make_app(config)
        # The driver gives up reconnecting to its result store after a few seconds (Celery
        # would retry ~20 s inside one get()); results.wait_for then waits on in slices,
        # checking the broker between them. The worker keeps Celery's patient default.
        self._app.conf.result_backend_transport_options = {"retry_policy": DRIVER_STORE_RETRY}
        self._connection_errors = tuple(
            getattr(self._app.backend, "connection_errors", ()) or ()
        ) + (kombu.exceptions.OperationalError,)
        self._run = self._app.tasks[RUN_TASK]
        self._run_chunk = self._app.tasks[RUN_CHUNK_TASK]
        self._workdir = tempfile.mkdtemp(prefix="distlab-celery-")
        self._finalizers.append(weakref.finalize(self, shutil.rmtree, self._workdir, True))
        if given_queue:
            self._wait_queue_served()
            return
        self._start_worker(config, self._queue, self.workers)
        for resource, units in self._resource_totals.items():
            if units > 0:
                self._start_worker(config, self._resource_queue(resource), units, resource)
        self._wait_workers_ready()

    def _resource_queue(self, resource: str) -> str:
        return f"{self._queue}.{resource}"

    def _broker_and_backend(self) -> tuple[str, str]:
        if not self.address:
            self._redis = RedisServer(durable=self.durable_broker).start()
            self._broker_dead_since = None
            self._broker_label = f"embedded redis {self._redis.host}:{self._redis.port}"
            return self._redis.url, self._redis.url
        self.check_address(self.address)
        scheme, host, port = self._broker_endpoint(self.address)
        self._broker_label = f"{scheme}://{host}:{port}"  # no credentials in labels
        if self.result_backend:
            return self.address, self.result_backend
        backend = self.address if scheme.startswith("redis") else "rpc://"
        return self.address, backend

    def _broker_dead(self, grace: float = BROKER_GRACE_S) -> str | None:
        """Why the embedded broker is lost (dead for ``grace`` seconds), else None."""
        redis = self._redis
        if redis is None:
            return None
        if redis.alive():
            self._broker_dead_since = None
            return None
        now = time.monotonic()
        if self._broker_dead_since is None:
            self._broker_dead_since = now
        if now - self._broker_dead_since < grace:
            return None
        return (
            f"the celery broker ({redis.label}) died and did not come back within "
            f"{grace:g} s: the tasks it held and their results are unreachable"
        )

    def _check_alive(self, unreachable: BaseException | None = None, for_s: float = 0.0) -> None:
        """Between the slices of a wait (results.wait_for): a worker exited, the embedded
        broker is dead (check_workers), or the broker stays unreachable: raise."""
        self.check_workers()
        if unreachable is None:
            return
        limit = BROKER_GRACE_S if self._redis is None else UNREACHABLE_LIMIT_S
        if for_s >= limit:
            first = (str(unreachable).strip().splitlines() or [type(unreachable).__name__])[0]
            raise BrokerLost(
                f"the celery broker ({self._broker_label}) has been unreachable for "
                f"{for_s:.0f} s: {first}"
            )

    def _publish(self, send: Callable[[], Any]) -> Any:
        """``send()`` a task message; while the broker is down (a restart under way),
        retry until it is back or lost (BrokerLost, within BROKER_GRACE_S)."""
        since: float | None = None
        while True:
            dead = self._broker_dead()
            if dead:
                raise BrokerLost(dead)
            try:
                return send()
            except Exception as exc:
                if not unreachable(exc, self._connection_errors):
                    raise
                now = time.monotonic()
                since = since or now
                if self._redis is None and now - since >= BROKER_GRACE_S:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise BrokerLost(
                        f"could not send the task to the celery broker ({self._broker_label}) "
                        f"for {now - since:.0f} s: {first}"
                    ) from None
                if now - since >= UNREACHABLE_LIMIT_S:
                    raise BrokerLost(
                        f"the celery broker ({self._broker_label}) is running but refused "
                        f"the task for {now - since:.0f} s: {exc}"
                    ) from None
                time.sleep(0.2)

    def health(self) -> str | None:
        for queue, proc in self._workers.items():
            if proc.poll() is not None:
                return (
                    f"its worker process exited with code {proc.returncode}: "
                    f"{self._log_tail(queue, lines=1)}"
                )
        return self._broker_dead(grace=0.0)

    def broker(self) -> RedisServer | None:
        return self._redis

    def close(self) -> None:
        # Workers first: with the broker gone they would keep retrying to reconnect.
        workers = list(self._workers.values())
        if workers:
            stop_pids([p.pid for p in workers], grace=10.0)
            for proc in workers:
                try:
                    proc.wait(timeout=10)  # reap: no zombie left
                except subprocess.TimeoutExpired:
                    pass
        self._workers = {}
        for finalizer in self._finalizers:
            finalizer()  # the workers are gone: only the log directory is left to remove
        self._finalizers = []
        if self._app is not None:
            drop_result_subscriptions(self._app)
            try:
                self._app.close()
            except Exception:  # connections to a server that is already gone
                pass
            self._app = self._run = self._run_chunk = None
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        self.started = False

    # -- tasks -----------------------------------------------------------------------
    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        queue = self._queue_for(resources) if resources else self._queue
        payload = cloudpickle.dumps((fn, tuple(args), kwargs or {}))
        run = self._require_run()
        result = self._publish(lambda: run.apply_async((payload,), queue=queue))
        return CeleryFuture(
            result,
            lambda: self._app is not None,
            self._check_alive,
            self._connection_errors,
            self.losses,
        )

    def _require_run(self):
        if self._run is None:
            raise DistlabError("the celery engine is not started")
        return self._run

    def _queue_for(self, resources: dict[str, float]) -> str:
        """The dedicated queue of the one resource asked for (one unit at most)."""
        wanted = {k: v for k, v in resources.items() if v > 0}
        if not wanted:
            return self._queue
        if len(wanted) > 1:
            raise DistlabError("the celery engine schedules by one resource per task")
        ((resource, amount),) = wanted.items()
        total = self._resource_totals.get(resource, 0)
        if amount > total:
            raise UnsatisfiableResources(
                f"no celery worker holds {resource}={amount:g} (cluster total: {total:g})"
            )
        if amount > 1:
            raise DistlabError(
                f"the celery engine gives a task one unit of {resource}, not {amount:g}"
            )
        return self._resource_queue(resource)

    def map(self, fn, items, *, chunksize=None) -> list[Any]:
        """One message per chunk (one per item without chunksize), sent through one
        producer, collected in order."""
        items = list(items)
        if not items:
            return []
        if self.task_log is not None:  # a fault is injected: every task recorded
            return super().map(fn, items, chunksize=chunksize)
        self._require_run()
        fn_blob = cloudpickle.dumps(fn)  # once, not per message
        size = chunksize if chunksize and chunksize > 1 else 1
        with self._app.producer_or_acquire() as producer:
            results = [
                self._run_chunk.apply_async(
                    (fn_blob, cloudpickle.dumps(chunk)), producer=producer, queue=self._queue
                )
                for chunk in chunked(items, size)
            ]
        errors, alive = self._connection_errors, self._check_alive
        return [v for r in results for v in collect(r, alive, errors, self.losses)]

    # -- observation -------------------------------------------------------------------
    # Celery's own API: a registered task, .delay(), .get() (no pickled payloads)
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]:
        return [self._app.tasks[NOOP_TASK].delay(i, work_ms) for i in range(n)]

    def job_results(self, handles: list[Any]) -> list[Any]:
        return [r.get() for r in handles]

    def native_noop_tasks(self, n: int) -> list[Any]:
        return self.job_results(self.enqueue_jobs(n))

    def resource_totals(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._resource_totals.items()}

    def worker_pids(self) -> list[int]:
        """The prefork pools' child processes (each runs tasks), main pool first."""
        return [pid for queue in self._workers for pid in self._pool_children(queue)]

    def process_roots(self) -> list[int]:
        roots = [proc.pid for proc in self._workers.values()]
        if self._redis is not None and self._redis.pid:
            roots.append(self._redis.pid)
        return roots

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address and self._broker_label or "embedded",
            "broker": self._broker_label,
            "workers": self.workers,
            "pool": self.options["pool"],
            # workers started elsewhere (distlab run --hosts) serve this queue
            "queue_of_workers_started_elsewhere": self.options["queue"],
            "prefetch_multiplier": self.prefetch_multiplier,
            "acks_late": self.options["acks_late"],
            "visibility_timeout_s": self.visibility_timeout,
            "durable_broker": self.durable_broker if self._redis is not None else None,
            "resources": self.resource_totals(),
        }
