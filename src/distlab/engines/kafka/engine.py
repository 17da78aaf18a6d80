"""Kafka as a work queue: tasks go to a topic, a consumer group of worker processes runs
them and sends the outcomes back on a results topic.

Without an address the adapter starts its own Kafka-protocol broker (Tansu, see
distlab.services.kafka.broker) on loopback; with ``address="host:port[,host:port]"`` it
uses the user's bootstrap servers, creating uniquely named topics there and deleting them
on close. Worker processes always run on this machine (distlab.engines.kafka.worker).

Delivery is at-least-once: a worker commits a task's offset only after its result is
flushed, so a killed worker's unfinished tasks are re-run by the group member that takes
over its partitions. The driver keeps the first result per task and counts the rest in
``duplicates``. A killed worker is not replaced: the survivors take over its partitions
after ``session.timeout.ms`` (3 s by default); if every worker has died, pending futures
fail with EngineStartError instead of waiting forever. The results side (the futures and
the thread that reads the results topic) is distlab.engines.kafka.results; the stream
processors are distlab.engines.kafka.stream.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import Future as ConcurrentFuture
from typing import Any

import cloudpickle
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from distlab.contracts import (
    BrokerLost,
    DistlabError,
    EngineStartError,
    Future,
    StreamEngine,
    StreamResult,
    StreamSpec,
    TaskEngine,
    apply_chunk,
    chunked,
)
from distlab.engines.addressing import endpoint, unreachable
from distlab.engines.kafka.results import TaskResults
from distlab.procs import port_open, stop_pids
from distlab.services.kafka.broker import KafkaBroker, create_topics, delete_group, delete_topics

#: how long start() waits for the consumer group to cover every task partition
GROUP_READY_TIMEOUT = 60.0
#: how long an unreachable user cluster may take to fail
CONNECT_TIMEOUT = 8.0
#: Kafka's own default port, for bootstrap servers given without one
DEFAULT_PORT = 9092


class KafkaEngine(TaskEngine, StreamEngine):
    name = "kafka"
    needs_server = True
    address_help = (
        "Kafka bootstrap servers, host:port[,host:port] (default: an embedded Tansu broker)"
    )

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        """Options: ``partitions`` (task topic, default 2 x workers),
        ``session_timeout_ms`` (group failure detection, default 3000),
        ``max_message_bytes`` (largest task or result, default 64 MiB),
        ``fetch_wait_ms`` (longest wait of a fetch, default 5),
        ``restart_workers`` (replace a worker process that dies, default True)."""
        super().__init__(address, workers, **options)
        #: dead worker processes replaced (option restart_workers, default True)
        self.restart_workers = bool(self.options.get("restart_workers", True))
        self.worker_restarts = 0
        self._broker: KafkaBroker | None = None
        #: why the broker is lost (it died; an in-memory broker takes the topics with it)
        self._broker_lost: str | None = None
        #: set by start(): task partitions, group failure detection, longest fetch wait
        self.partitions: int | None = None
        self.session_timeout_ms: int | None = None
        self.fetch_wait_ms: int | None = None
        self.max_message_bytes = 0
        self.bootstrap = ""
        self.tasks_topic = self.results_topic = self.group = ""
        self._procs: list[subprocess.Popen] = []
        self._producer: Producer | None = None
        #: the futures and the results thread (kept after close for its counters)
        self._results: TaskResults | None = None
        self._next_liveness_check = 0.0
        self._topics: list[str] = []
        self._logdir: tempfile.TemporaryDirectory | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @classmethod
    def check_address(cls, address: str) -> None:
        """Bootstrap servers ``host:port[,host:port]``: at least one must answer."""
        servers = [s.strip() for s in address.split("://", 1)[-1].split(",") if s.strip()]
        form = "host:port[,host:port]"
        hosts = [endpoint(cls.name, s, DEFAULT_PORT, form) for s in servers]
        if not hosts:
            raise EngineStartError(f"--address {cls.name}={address!r}: expected {form}")
        if not any(port_open(h, p, timeout=2.0) for h, p in hosts):
            tried = ", ".join(f"{h}:{p}" for h, p in hosts)
            raise unreachable(cls.name, address, f"no Kafka broker answers on {tried}")

    @property
    def foreign_messages(self) -> int:
        """Unreadable messages found on the results topic."""
        return self._results.foreign_messages if self._results is not None else 0

    def _start(self) -> None:
        self.partitions = int(self.options.get("partitions") or 2 * self.workers)
        if self.partitions < self.workers:
            raise DistlabError(
                f"kafka needs partitions >= workers ({self.partitions} < {self.workers})"
            )
        self.session_timeout_ms = int(self.options.get("session_timeout_ms", 3000))
        self.max_message_bytes = int(self.options.get("max_message_bytes", 64 << 20))
        # Tansu answers a fetch only after fetch.wait.max.ms even when data is waiting, so
        # this bounds each hop's latency; lower costs more idle polling.
        self.fetch_wait_ms = int(self.options.get("fetch_wait_ms", 5))

        if self.address:
            self.check_address(self.address)
            self.bootstrap = self.address.split("://", 1)[-1]
            _check_metadata(self.bootstrap)
        else:
            self._broker = KafkaBroker().start()
            self._broker_lost = None
            self.bootstrap = self._broker.bootstrap

        run = uuid.uuid4().hex[:12]
        self.tasks_topic, self.results_topic = f"distlab-tasks-{run}", f"distlab-results-{run}"
        self.group = f"distlab-workers-{run}"
        self._topics = [self.tasks_topic, self.results_topic]
        # one results partition per worker: each has a single writer (see .worker)
        create_topics(
            self.bootstrap, {self.tasks_topic: self.partitions, self.results_topic: self.workers}
        )

        self._producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "linger.ms": 1,
                "message.max.bytes": self.max_message_bytes,
                "acks": "all",
            }
        )
        self._results = TaskResults(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"distlab-driver-{run}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": self.fetch_wait_ms,
                "fetch.max.bytes": self.max_message_bytes,
                "max.partition.fetch.bytes": self.max_message_bytes,
                "receive.message.max.bytes": self.max_message_bytes + 1_000_000,
            },
            self.results_topic,
            self.workers,
            tick=self._tick,
            on_duplicate=self._count_duplicate,
        )

        self._logdir = tempfile.TemporaryDirectory(prefix="distlab-kafka-")
        for index in range(self.workers):
            self._procs.append(self._spawn_worker(index))
        self._wait_for_group()

    def _spawn_worker(self, index: int) -> subprocess.Popen:
        env = dict(os.environ)
        # Functions pickled by reference (importable modules) must import on the worker too.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        log = open(os.path.join(self._logdir.name, f"worker-{index}.log"), "wb")
        with log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distlab.engines.kafka.worker",
                    "--bootstrap",
                    self.bootstrap,
                    "--tasks",
                    self.tasks_topic,
                    "--results",
                    self.results_topic,
                    "--group",
                    self.group,
                    "--index",
                    str(index),
                    "--session-timeout-ms",
                    str(self.session_timeout_ms),
                    "--max-message-bytes",
                    str(self.max_message_bytes),
                    "--fetch-wait-ms",
                    str(self.fetch_wait_ms),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def _group_ready(self) -> bool:
        assignments = self._results.assignments
        owned = [p for parts in assignments.values() for p in parts]
        return (
            sum(1 for parts in assignments.values() if parts) == self.workers
            and len(owned) == len(set(owned)) == self.partitions
        )

    def _wait_for_group(self) -> None:
        deadline = time.monotonic() + GROUP_READY_TIMEOUT
        with self._results.assigned:
            while not self._group_ready():
                dead = [p for p in self._procs if p.poll() is not None]
                if dead:
                    raise EngineStartError(
                        f"a kafka worker exited with code {dead[0].returncode} at start-up: "
                        f"{self._worker_log_tail(self._procs.index(dead[0]))}"
                    )
                if time.monotonic() > deadline:
                    raise EngineStartError(
                        f"the kafka worker group did not take all {self.partitions} partitions "
                        f"within {GROUP_READY_TIMEOUT:.0f}s "
                        f"(assigned: {self._results.assignments})"
                    )
                self._results.assigned.wait(0.1)

    def _worker_log_tail(self, index: int) -> str:
        try:
            with open(os.path.join(self._logdir.name, f"worker-{index}.log"), "rb") as f:
                lines = f.read()[-2000:].decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else "(no output)"
        except OSError:
            return "(no log)"

    def close(self) -> None:
        # The results thread first: it supervises the workers stopped next.
        if self._results is not None:
            self._results.close("the kafka engine was closed before the task finished")
        procs, self._procs = self._procs, []
        if procs:
            # a worker's orderly close flushes to the broker: pointless once it is lost
            stop_pids([p.pid for p in procs], grace=0.5 if self._broker_lost else 5.0)
            for p in procs:
                p.wait(timeout=5)
        if self._producer is not None:
            self._producer.flush(0 if self._broker_lost else 5)  # nowhere to flush to
            self._producer = None
        if self.address and self._topics:
            # On the user's cluster, leave nothing of ours behind.
            delete_topics(self.bootstrap, self._topics)
            delete_group(self.bootstrap, self.group)
        self._topics = []
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        if self._logdir is not None:
            self._logdir.cleanup()
            self._logdir = None
        self.started = False

    # -- supervision (on the results thread) ---------------------------------------------
    def _tick(self) -> None:
        self._producer.poll(0)  # serve delivery reports (failed produces)
        self._fail_if_broker_died()
        if time.monotonic() > self._next_liveness_check:
            self._next_liveness_check = time.monotonic() + 1.0
            self._fail_if_no_workers()

    def _fail_if_broker_died(self) -> None:
        """The embedded broker is our process: the moment it is gone, every pending task
        fails with BrokerLost naming it (its in-memory topics went with it: nothing can
        come back), and new tasks are refused until the engine is restarted."""
        broker = self._broker
        if broker is None or self._broker_lost or broker.alive():
            return
        code = broker.returncode
        self._broker_lost = (
            f"the {broker.label} died (pid {broker.pid}, exit status {code}); its topics and "
            "the tasks in them went with it"
        )
        if self._results is not None:
            self._results.fail_all(BrokerLost(self._broker_lost))

    def _count_duplicate(self) -> None:
        self.duplicates += 1

    def _replace_dead_workers(self) -> None:
        """Start a worker in place of each one that died: a supervisor's job, as Celery's
        pool does for its children. The group rebalances; unacknowledged tasks of the dead
        worker are consumed again by the others or the replacement (at-least-once)."""
        if not self.restart_workers or not self.started:
            return
        for index, proc in enumerate(self._procs):
            if proc.poll() is not None:
                self._procs[index] = self._spawn_worker(index)
                self.worker_restarts += 1

    def _fail_if_no_workers(self) -> None:
        self._replace_dead_workers()
        if not self.started or not self._procs or any(p.poll() is None for p in self._procs):
            return
        results = self._results
        if results is not None:
            results.fail_all(EngineStartError("every kafka worker process has exited"))

    # -- the task side -------------------------------------------------------------------
    def _produce(self, fn_blob: bytes, args: tuple, kwargs: dict) -> ConcurrentFuture:
        results = self._results
        if not self.started or results is None:
            raise DistlabError("the kafka engine is not started")
        if self._broker_lost:
            raise BrokerLost(self._broker_lost)
        value = cloudpickle.dumps((fn_blob, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        task_id, seq, fut = results.track()
        partition = seq % self.partitions  # spread evenly over the workers

        def delivered(err, _msg):
            if err is not None:
                results.fail(
                    task_id, DistlabError(f"could not send the task to Kafka: {err.str()}")
                )

        while True:
            try:
                self._producer.produce(
                    self.tasks_topic, value, key=task_id, partition=partition, on_delivery=delivered
                )
                return fut
            except BufferError:  # local queue full: let it drain
                self._producer.poll(0.05)
            except KafkaException as exc:
                results.fail(task_id, DistlabError(f"could not send the task to Kafka: {exc}"))
                raise DistlabError(f"could not send the task to Kafka: {exc}") from None

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            raise DistlabError("the kafka engine does not schedule by resources")
        fut = self._produce(_dump_fn(fn), tuple(args), kwargs or {})
        self._producer.poll(0)
        return fut

    def map(self, fn, items, *, chunksize=None) -> list[Any]:
        items = list(items)
        if self.task_log is not None:  # a fault is injected: every task recorded
            return super().map(fn, items, chunksize=chunksize)
        if chunksize and chunksize > 1:
            fn_blob = _dump_fn(apply_chunk)
            futures = [self._produce(fn_blob, (fn, c), {}) for c in chunked(items, chunksize)]
        else:
            fn_blob = _dump_fn(fn)  # pickled once for the whole map
            futures = [self._produce(fn_blob, (x,), {}) for x in items]
        self._producer.poll(0)
        results = self.gather(futures)
        if chunksize and chunksize > 1:
            return [r for part in results for r in part]
        return results

    # -- streams -------------------------------------------------------------------------
    def run_stream(self, spec: StreamSpec) -> StreamResult:
        """The stream contract (distlab.contracts.streams) on this engine's workers: one
        processor per source partition; see distlab.engines.kafka.stream."""
        from distlab.engines.kafka.stream import run_on_kafka_engine

        return run_on_kafka_engine(self, spec)

    # -- observation ---------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.poll() is None]

    def broker(self) -> KafkaBroker | None:
        return self._broker

    def health(self) -> str | None:
        if self._broker is not None and not self._broker.alive():
            return self._broker_lost or f"its broker ({self._broker.label}) is not running"
        if self._procs and not any(p.poll() is None for p in self._procs):
            return "every kafka worker process has exited"
        return None

    def process_roots(self) -> list[int]:
        roots = [p.pid for p in self._procs]
        if self._broker is not None and self._broker.pid is not None:
            roots.append(self._broker.pid)
        return roots

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "broker": "user cluster" if self.address else "tansu (embedded, in-memory)",
            "workers": self.workers,
            "partitions": self.partitions,
            "session_timeout_ms": self.session_timeout_ms,
            "fetch_wait_ms": self.fetch_wait_ms,
            "delivery": "at-least-once (duplicates dropped by the driver)",
            "restart_workers": self.restart_workers,
        }


def _dump_fn(fn) -> bytes:
    return cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)


def _check_metadata(bootstrap: str) -> None:
    """Something answers: check that it speaks Kafka (one line, within CONNECT_TIMEOUT)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=CONNECT_TIMEOUT)
    except KafkaException as exc:
        raise EngineStartError(
            f"Kafka at {bootstrap} did not answer a metadata request: {exc}"
        ) from None
