"""Kafka as a work queue: tasks go to a topic, a consumer group of worker processes runs
them and sends the outcomes back on a results topic.

Without an address the adapter starts its own Apache Kafka broker (one KRaft node, see
distlab.services.kafka.broker) on loopback; with ``address="host:port[,host:port]"`` it
uses the user's bootstrap servers, creating uniquely named topics there and deleting them
on close. Its worker processes (distlab.engines.kafka.worker) run on this machine, or
elsewhere with ``group`` (engines/kafka/hosts.py starts them on test hosts).

Delivery is at-least-once: a worker commits a task's offset only after its result is
flushed, so a killed worker's unfinished tasks are re-run by the group member that takes
over its partitions. The driver keeps the first result per task and counts the rest in
``duplicates``. A killed worker is not replaced: the survivors take over its partitions
after ``session.timeout.ms`` (3 s by default, 6 s on a user's cluster); if every worker
has died, pending futures fail instead of waiting forever. The futures and the results
reader are distlab.engines.kafka.results; the stream processors distlab.engines.kafka.stream.
"""

from __future__ import annotations

import pickle
import time
import uuid
from concurrent.futures import Future as ConcurrentFuture
from typing import Any

import cloudpickle
from confluent_kafka import KafkaException, Producer

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
from distlab.engines.common.addressing import endpoint, unreachable
from distlab.engines.kafka.group import WorkerProcesses, wait_for_assignment
from distlab.engines.kafka.plugin import PLUGIN
from distlab.engines.kafka.results import TaskResults
from distlab.engines.kafka.worker import RECORD_OVERHEAD, too_large
from distlab.procs import port_open
from distlab.services.kafka.broker import (
    KafkaBroker,
    check_metadata,
    create_topics,
    delete_group,
    delete_topics,
    kafka_version,
)

#: how long an unreachable user cluster may take to fail
CONNECT_TIMEOUT = 8.0
#: Kafka's own default port, for bootstrap servers given without one
DEFAULT_PORT = 9092
#: how long the embedded broker may be dead (a restart under way) before tasks fail
BROKER_GRACE_S = 3.0


class KafkaEngine(TaskEngine, StreamEngine):
    name = "kafka"
    plugin = PLUGIN
    needs_server = True
    own_kafka = True
    server = "KRaft broker and controller, one node"
    address_help = (
        "Kafka bootstrap servers, host:port[,host:port] (default: an embedded Apache Kafka broker)"
    )
    data_path = {
        "argument": "cloudpickled into a record on the tasks topic, written to the broker's "
        "log (at most max_message_bytes, 64 MiB by default)",
        "result": "pickled into a record on the results topic (the same limit)",
        "shared": "by value: pickled into every task record that uses it",
    }

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        """Options: as declared in plugin.py. With ``group`` the engine uses the topics
        ``GROUP-tasks`` and ``GROUP-results`` and the consumer group ``GROUP-workers`` of
        workers started elsewhere (e.g. on other hosts): it starts no worker, creates and
        deletes no topic, and ``partitions`` must then be the tasks topic's."""
        super().__init__(address, workers, **options)
        #: dead worker processes replaced (option restart_workers, default True)
        self.restart_workers: bool = self.options["restart_workers"]
        self.worker_restarts = 0
        self._broker: KafkaBroker | None = None
        #: why the broker is lost (it died; an in-memory broker takes the topics with it)
        self._broker_lost: str | None = None
        self._broker_dead_since: float | None = None
        #: set by start(): task partitions, group failure detection, longest fetch wait
        self.partitions: int | None = None
        self.session_timeout_ms: int | None = None
        self.fetch_wait_ms: int | None = None
        self.max_message_bytes = 0
        self.bootstrap = ""
        self.tasks_topic = self.results_topic = self.group = ""
        self._group: WorkerProcesses | None = None
        self._producer: Producer | None = None
        #: the futures and the results thread (kept after close for its counters)
        self._results: TaskResults | None = None
        self._next_liveness_check = 0.0
        self._topics: list[str] = []

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

    @classmethod
    def server_version(cls) -> str:
        return f"Apache Kafka {kafka_version()}"

    @property
    def foreign_messages(self) -> int:
        """Unreadable messages found on the results topic."""
        return self._results.foreign_messages if self._results is not None else 0

    def _start(self) -> None:
        self.partitions = self.options["partitions"] or 2 * self.workers
        if self.partitions < self.workers:
            raise DistlabError(
                f"kafka needs partitions >= workers ({self.partitions} < {self.workers})"
            )
        # a broker refuses a session timeout under its group.min.session.timeout.ms:
        # 6 s by default on a user's cluster, 1 s on the embedded broker
        default_timeout = 6000 if self.address else 3000
        self.session_timeout_ms = self.options["session_timeout_ms"] or default_timeout
        self.max_message_bytes = self.options["max_message_bytes"]
        # Apache Kafka answers a fetch as soon as data arrive: this only bounds idle polls.
        self.fetch_wait_ms = self.options["fetch_wait_ms"]

        if self.address:
            self.check_address(self.address)
            self.bootstrap = self.address.split("://", 1)[-1]
            check_metadata(self.bootstrap, CONNECT_TIMEOUT)
        else:
            self._broker = KafkaBroker().start()
            self._broker_lost = None
            self.bootstrap = self._broker.bootstrap

        run = uuid.uuid4().hex[:12]
        remote = self.options["group"]
        names = remote or f"distlab-{run}"
        self.tasks_topic, self.results_topic = f"{names}-tasks", f"{names}-results"
        self.group = f"{names}-workers"
        if not remote:
            self._topics = [self.tasks_topic, self.results_topic]
            # as many results partitions as workers; a topic's own size limit, as Apache
            # Kafka refuses messages over 1 MB by default
            create_topics(
                self.bootstrap,
                {self.tasks_topic: self.partitions, self.results_topic: self.workers},
                config={"max.message.bytes": str(self.max_message_bytes)},
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
            id_prefix=f"{run}:".encode() if remote else b"",
        )
        if remote:
            wait_for_assignment(self._results, None, self.workers, self.partitions)
            return
        self._group = WorkerProcesses(
            self.workers,
            bootstrap=self.bootstrap,
            tasks=self.tasks_topic,
            results=self.results_topic,
            group=self.group,
            session_timeout_ms=self.session_timeout_ms,
            max_message_bytes=self.max_message_bytes,
            fetch_wait_ms=self.fetch_wait_ms,
        )
        self._group.start()
        wait_for_assignment(self._results, self._group, self.workers, self.partitions)

    def close(self) -> None:
        # The results thread first: it supervises the workers stopped next.
        if self._results is not None:
            self._results.close("the kafka engine was closed before the task finished")
        group, self._group = self._group, None
        if group is not None:
            # a worker's orderly close flushes to the broker: pointless once it is lost
            group.stop(grace=0.5 if self._broker_lost else 5.0)
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
        self.started = False

    # -- supervision (on the results thread) ---------------------------------------------
    def _tick(self) -> None:
        self._producer.poll(0)  # serve delivery reports (failed produces)
        self._fail_if_broker_died()
        if time.monotonic() > self._next_liveness_check:
            self._next_liveness_check = time.monotonic() + 1.0
            self._fail_if_no_workers()

    def _fail_if_broker_died(self) -> None:
        """The embedded broker is our process. Its log is on disk, so a broker restarted
        within BROKER_GRACE_S goes unnoticed (the clients reconnect and resend); once it
        has been dead that long, every pending task fails with BrokerLost naming it, and
        new tasks are refused until the engine is restarted."""
        broker = self._broker
        if broker is None or self._broker_lost:
            return
        if broker.alive():
            self._broker_dead_since = None
            return
        now = time.monotonic()
        if self._broker_dead_since is None:
            self._broker_dead_since = now
        if now - self._broker_dead_since < BROKER_GRACE_S:
            return
        self._broker_lost = (
            f"the {broker.label} died (pid {broker.pid}, exit status {broker.returncode}) "
            f"and did not come back within {BROKER_GRACE_S:g} s: the tasks in its topics "
            "are unreachable"
        )
        if self._results is not None:
            self._results.fail_all(BrokerLost(self._broker_lost))

    def _count_duplicate(self) -> None:
        self.duplicates += 1

    def _replace_dead_workers(self) -> None:
        """Start a worker in place of each one that died: a supervisor's job, as Celery's
        pool does for its children. The group rebalances; unacknowledged tasks of the dead
        worker are consumed again by the others or the replacement (at-least-once)."""
        group = self._group
        if self.restart_workers and self.started and group is not None:
            self.worker_restarts += group.replace_dead()

    def _fail_if_no_workers(self) -> None:
        self._replace_dead_workers()
        group = self._group
        if not self.started or group is None or not group.procs or group.any_alive():
            return
        results = self._results
        if results is not None:
            results.fail_all(EngineStartError("every kafka worker process has exited"))

    # -- the task side -------------------------------------------------------------------
    def _produce(
        self, fn_blob: bytes, args: tuple, kwargs: dict, partition: int | None = None
    ) -> ConcurrentFuture:
        results = self._results
        if not self.started or results is None:
            raise DistlabError("the kafka engine is not started")
        if self._broker_lost:
            raise BrokerLost(self._broker_lost)
        value = cloudpickle.dumps((fn_blob, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        if len(value) > self.max_message_bytes - RECORD_OVERHEAD:
            raise too_large("task", len(value), self.max_message_bytes - RECORD_OVERHEAD)
        task_id, seq, fut = results.track()
        if partition is None:
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

    def submit_to_each_worker(self, fn, *args_per_worker: tuple) -> list[Future]:
        """One task to each worker process (``fn(*args)``, one args tuple per worker, in
        any order): each goes to a task partition that a different worker owns now."""
        owners = self._results.assignments.values() if self._results else []
        partitions = [min(parts) for parts in owners if parts]
        if len(partitions) < len(args_per_worker):
            raise DistlabError(
                f"{len(args_per_worker)} tasks for {len(partitions)} kafka worker(s)"
            )
        blob = _dump_fn(fn)
        futures = [
            self._produce(blob, args, {}, partition)
            for partition, args in zip(partitions, args_per_worker, strict=False)
        ]
        self._producer.poll(0)
        return futures

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
        processor per worker process; see distlab.engines.kafka.stream."""
        from distlab.engines.kafka.stream import run_on_kafka_engine

        return run_on_kafka_engine(self, spec)

    # -- observation ---------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return self._group.pids() if self._group is not None else []

    def broker(self) -> KafkaBroker | None:
        return self._broker

    def health(self) -> str | None:
        if self._broker is not None and not self._broker.alive():
            return self._broker_lost or f"its broker ({self._broker.label}) is not running"
        if self._group is not None and self._group.procs and not self._group.any_alive():
            return "every kafka worker process has exited"
        return None

    def process_roots(self) -> list[int]:
        roots = self._group.pids(alive_only=False) if self._group is not None else []
        if self._broker is not None and self._broker.pid is not None:
            roots.append(self._broker.pid)
        return roots

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "broker": self._broker.settings() if self._broker else "user cluster",
            "workers": self.workers,
            "partitions": self.partitions,
            "session_timeout_ms": self.session_timeout_ms,
            "fetch_wait_ms": self.fetch_wait_ms,
            "delivery": "at-least-once (duplicates dropped by the driver)",
            "restart_workers": self.restart_workers,
            # the consumer group of workers started elsewhere (option group), if any
            "group_of_workers_started_elsewhere": self.options["group"] and self.group,
        }


def _dump_fn(fn) -> bytes:
    return cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
