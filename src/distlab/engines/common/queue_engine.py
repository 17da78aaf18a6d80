"""What the Redis task queues share (Dramatiq, RQ, Huey, Taskiq, arq): an embedded Redis
or the user's, the queue's own worker CLI started as a user starts it, tasks carried as
text (distlab.engines.common.carried), results through the queue's own API, and the
watch that turns a dead worker or a dead broker into TaskLost or BrokerLost.

An adapter writes five things: the worker commands (``worker_commands``), the driver's
client (``connect``/``disconnect``), ``enqueue`` (a carried call -> the queue's handle)
and ``wait_result`` (a handle -> the outcome text, or None while not done).

Without an address the engine starts its own Redis on 127.0.0.1 (append-only when
``durable_broker``, as ``--kill-broker`` sets); with ``redis://host:port/db`` it uses the
user's. Either way it starts the worker processes, serving a queue unique to this
engine instance, and stops them by PID on close; with option ``queue`` it starts none and
uses the workers already serving that queue (``distlab run --hosts``).

A worker CLI that exits is started again on the same queue, as a process supervisor
(systemd, supervisord) would: a queue that re-delivers a dead worker's task needs a
worker to deliver it to. A task is lost when a worker process died and the task has
neither finished nor come back ``lost_after`` seconds after the last sign of progress
(a result arriving, the death itself): the only way to notice a loss on queues that
never report one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, ClassVar

import psutil

from distlab.contracts import BrokerLost, DistlabError, EngineStartError, TaskEngine, TaskLost
from distlab.contracts.errors import first_line
from distlab.contracts.measured import Loss
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.engines.common.carried import carry
from distlab.engines.common.queue_config import DRIVER_ENV, worker_environment
from distlab.engines.common.queue_futures import CONNECTION_ERRORS, QueueFuture
from distlab.procs import stop_pids
from distlab.services.redis_server import RedisServer, redis_version

WORKER_START_TIMEOUT = 60.0
#: seconds the embedded Redis may be dead (a restart under way) before callers are told
BROKER_GRACE_S = 3.0
#: a user's Redis that stays unreachable this long is lost
UNREACHABLE_LIMIT_S = 15.0
#: how often the worker processes are looked at while a caller waits (seconds)
WATCH_EVERY_S = 0.25
#: worker CLIs started again after exiting, at most, before the engine gives up
MAX_RESTARTS = 20


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class QueueEngine(TaskEngine):
    """Base of the Redis task queues' engines (see the module docstring)."""

    needs_server = True
    server = "Redis (broker and result store)"
    address_help = "redis://host:port/db (the queue's broker and result store)"
    #: the queue's worker command as the reports name it, e.g. "rq worker-pool"
    worker_cli: ClassVar[str] = "?"
    #: the process running a task lives for that task alone (RQ's work-horse): one that
    #: vanished did not die
    task_processes_come_and_go: ClassVar[bool] = False
    #: how long close() lets the worker CLIs shut down on SIGTERM before killing them
    stop_grace_s: ClassVar[float] = 10.0
    data_path: ClassVar[dict[str, str]] = {
        "argument": "cloudpickled, base64 text in the task message, held in Redis",
        "result": "cloudpickled, base64 text in the queue's result store (Redis)",
        "shared": "by value: in every task message that uses it",
    }

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address=address, workers=workers, **options)
        self.durable_broker: bool = self.options["durable_broker"]
        self.lost_after: float = self.options["lost_after"]
        self.redis_url = ""
        self.queue = ""
        self._redis: RedisServer | None = None
        self._broker_label = ""
        self._broker_dead_since: float | None = None
        self._unreachable_since: float | None = None
        #: the worker CLIs: command index -> process
        self._workers: dict[int, subprocess.Popen] = {}
        self._commands: list[list[str]] = []
        self._finalizers: list[weakref.finalize] = []
        self._workdir: str | None = None
        self._known_pids: set[int] = set()
        self._broker_pid: int | None = None
        self._watched_at = 0.0
        #: (time, pid) of every worker process seen dead
        self.deaths: list[tuple[float, int]] = []
        self.restarts = 0
        #: every task given up on (distlab.contracts.measured.NoticesLosses)
        self.losses: list[Loss] = []
        self._last_progress = time.monotonic()

    # -- what an adapter writes ---------------------------------------------------------
    def worker_commands(self) -> list[list[str]]:
        """The queue's worker CLI commands serving ``self.queue`` with ``self.workers``
        task processes in all."""
        raise NotImplementedError

    def worker_settings(self) -> dict[str, Any]:
        """The queue's settings its workers read (besides the URL and the queue)."""
        return {}

    def uses_redis(self) -> bool:
        """False: the queue keeps its tasks elsewhere (Huey's SQLite storage): no Redis."""
        return True

    def connect(self) -> None:
        """The driver's client to ``self.redis_url`` and ``self.queue``."""

    def disconnect(self) -> None:
        """Let go of the driver's client (the server may already be gone)."""

    def enqueue(self, call: str) -> Any:
        """Send one carried call through the queue; its handle."""
        raise NotImplementedError

    def wait_result(self, handle: Any, wait_s: float) -> str | None:
        """The task's outcome text within ``wait_s`` seconds, or None; TaskLost when the
        queue itself reports the task failed (not the user's function: that returns)."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def server_version(cls) -> str:
        return redis_version()

    @classmethod
    def _endpoint(cls, address: str) -> tuple[str, int]:
        if not address.lower().startswith(("redis://", "rediss://")):
            raise EngineStartError(
                f"{cls.name} address must be redis://host:port/db, got {address!r}"
            )
        return endpoint(cls.name, address, 6379, "redis://host:port/db")

    @classmethod
    def check_address(cls, address: str) -> None:
        host, port = cls._endpoint(address)
        require_answer(cls.name, f"redis://{host}:{port}", host, port)

    def config(self) -> dict[str, Any]:
        return {"url": self.redis_url, "queue": self.queue, **self.worker_settings()}

    def _start(self) -> None:
        given_queue = self.options["queue"]
        self.queue = given_queue or f"distlab-{uuid.uuid4().hex[:12]}"
        self._workdir = tempfile.mkdtemp(prefix=f"distlab-{self.name}-")
        self._finalizers.append(weakref.finalize(self, shutil.rmtree, self._workdir, True))
        if not self.uses_redis():
            self._broker_label = "none (no server)"
        elif self.address:
            self.check_address(self.address)
            host, port = self._endpoint(self.address)
            self.redis_url = self.address
            self._broker_label = f"redis://{host}:{port}"
        else:
            self._redis = RedisServer(durable=self.durable_broker).start()
            self.redis_url = self._redis.url
            self._broker_label = f"embedded redis {self._redis.host}:{self._redis.port}"
        self.connect()
        if not given_queue:
            self._commands = self.worker_commands()
            for index in range(len(self._commands)):
                self._start_worker(index)
        self._wait_ready()
        self._known_pids = set(self.worker_pids())
        self._broker_pid = self._redis.pid if self._redis is not None else None
        self._last_progress = time.monotonic()

    def _log_path(self, index: int) -> Path:
        return Path(self._workdir or ".") / f"worker-{index}.log"

    def _start_worker(self, index: int) -> None:
        env = worker_environment(self.config())
        env[DRIVER_ENV] = str(os.getpid())
        with open(self._log_path(index), "ab") as log:
            proc = subprocess.Popen(
                self._commands[index], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=self._workdir,
            )  # fmt: skip
        self._workers[index] = proc
        # stopped at interpreter exit even if close() is never called
        self._finalizers.append(weakref.finalize(self, stop_pids, [proc.pid], 10.0))

    def log_tail(self, index: int, lines: int = 3) -> str:
        try:
            text = self._log_path(index).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def _wait_ready(self) -> None:
        """Until a probe task came back, and every task process is up."""
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        probe = self.enqueue(carry(os.getpid))
        while self.wait_result(probe, 0.25) is None:
            for index, proc in self._workers.items():
                if proc.poll() is not None:
                    raise EngineStartError(
                        f"{self.worker_cli} exited with code {proc.returncode}: "
                        f"{self.log_tail(index)}"
                    )
            if time.monotonic() > deadline:
                served = "its workers" if self._workers else "a worker started elsewhere"
                raise EngineStartError(
                    f"no {self.name} task came back from {served} within "
                    f"{WORKER_START_TIMEOUT:.0f} s on queue {self.queue!r} "
                    f"({self._broker_label}): {self.log_tail(0)}"
                )
        while (
            self._workers
            and not self.task_processes_come_and_go
            and len(self.worker_pids()) < self.task_processes_expected()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)

    def close(self) -> None:
        workers = list(self._workers.values())
        if workers:
            stop_pids([p.pid for p in workers], grace=self.stop_grace_s)
            for proc in workers:
                try:
                    proc.wait(timeout=10)  # reap: no zombie left
                except subprocess.TimeoutExpired:
                    pass
        self._workers = {}
        try:
            self.disconnect()
        except Exception:  # a server that is already gone
            pass
        for finalizer in self._finalizers:
            finalizer()
        self._finalizers = []
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        self.started = False

    # -- tasks --------------------------------------------------------------------------
    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> QueueFuture:
        if resources and any(v > 0 for v in resources.values()):
            raise DistlabError(f"{self.name} does not schedule by resources")
        if not self.queue:
            raise DistlabError(f"the {self.name} engine is not started")
        return QueueFuture(self, self._publish(carry(fn, args, kwargs)))

    def _publish(self, call: str) -> Any:
        """Enqueue; while the broker cannot be reached (a restart under way), retry until
        it is back or lost."""
        since: float | None = None
        while True:
            try:
                return self.enqueue(call)
            except CONNECTION_ERRORS as exc:
                now = time.monotonic()
                since = since or now
                self._check_broker(exc, now - since)
                time.sleep(0.2)

    def progressed(self) -> None:
        self._last_progress = time.monotonic()
        self._unreachable_since = None

    # -- the watch ------------------------------------------------------------------------
    def _check_broker(self, error: BaseException | None, for_s: float) -> None:
        redis_server = self._redis
        if redis_server is not None and not redis_server.alive():
            now = time.monotonic()
            self._broker_dead_since = self._broker_dead_since or now
            if now - self._broker_dead_since >= BROKER_GRACE_S:
                raise BrokerLost(
                    f"the {self.name} broker ({redis_server.label}) died and did not come "
                    f"back within {BROKER_GRACE_S:g} s: the tasks it held are unreachable"
                )
            return
        self._broker_dead_since = None
        if error is not None and for_s >= UNREACHABLE_LIMIT_S:
            raise BrokerLost(
                f"the {self.name} broker ({self._broker_label}) has been unreachable for "
                f"{for_s:.0f} s: {first_line(error)}"
            )

    def _watch_workers(self) -> None:
        """Note worker processes that died; start again a worker CLI that exited."""
        now = time.monotonic()
        if now - self._watched_at < WATCH_EVERY_S:
            return
        self._watched_at = now
        for index, proc in list(self._workers.items()):
            if proc.poll() is None:
                continue
            self.deaths.append((now, proc.pid))
            if self.restarts >= MAX_RESTARTS:
                raise TaskLost(
                    f"{self.worker_cli} exited {self.restarts + 1} times (last: code "
                    f"{proc.returncode}: {self.log_tail(index)})"
                )
            self.restarts += 1
            self._start_worker(index)
        server = self._redis
        if server is not None and server.pid and server.pid != self._broker_pid:
            if self._broker_pid:  # restarted (--kill-broker): what it held may be gone
                self.deaths.append((now, self._broker_pid))
            self._broker_pid = server.pid
        current = set(self.worker_pids())
        if not self.task_processes_come_and_go:
            self.deaths.extend((now, pid) for pid in self._known_pids - current)
        self._known_pids = current

    def check_task(
        self, future: QueueFuture, unreachable: BaseException | None = None, for_s: float = 0.0
    ) -> None:
        """Between the slices of a wait: BrokerLost when the broker is gone (or has been
        unreachable too long), TaskLost when a worker or the broker died and the task did
        not come back within ``lost_after``."""
        self._check_broker(unreachable, for_s)
        self._watch_workers()
        died = [t for t, _ in self.deaths if t >= future.submitted]
        if not died:
            return
        quiet_since = max(died[-1], self._last_progress)
        if time.monotonic() - quiet_since >= self.lost_after:
            raise TaskLost(
                f"a {self.name} worker process (or the broker) died and the task has neither "
                f"finished nor come back within {self.lost_after:g} s (lost_after)"
            )

    def health(self) -> str | None:
        redis_server = self._redis
        if redis_server is not None and not redis_server.alive():
            return f"its broker ({redis_server.label}) is dead"
        return None

    def broker(self) -> RedisServer | None:
        return self._redis

    # -- the queue's own API, no carried payload (distlab bench queues, tiny-tasks) -------
    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]:
        """``noop(i, work_ms)`` for i in range(n) through the queue's own enqueue; the
        handles (distlab.contracts.measured.NativeJobs)."""
        raise NotImplementedError

    def job_results(self, handles: list[Any]) -> list[Any]:
        """The jobs' results, in order, through the queue's own result API."""
        raise NotImplementedError

    def native_noop_tasks(self, n: int) -> list[Any]:
        return self.job_results(self.enqueue_jobs(n))

    # -- observation -------------------------------------------------------------------
    def task_processes_expected(self) -> int:
        """How many task processes a started engine has at least (one per worker, unless
        a worker CLI runs its workers as threads of one process)."""
        return self.workers or 1

    def worker_pids(self) -> list[int]:
        """Every process of the worker CLIs that may run a task (the CLI's own process
        too: some run tasks there)."""
        pids: list[int] = []
        for proc in self._workers.values():
            try:
                root = psutil.Process(proc.pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            # a killed child stays a zombie until its parent reaps it (Huey's consumer:
            # at its next health check): dead all the same
            pids += [p.pid for p in processes if _alive(p)]
        return pids

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
            "worker_cli": self.worker_cli,
            "queue_of_workers_started_elsewhere": self.options["queue"],
            "durable_broker": self.durable_broker if self._redis is not None else None,
            "lost_after_s": self.lost_after,
            **self.worker_settings(),
        }
