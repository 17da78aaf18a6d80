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
fail with EngineStartError instead of waiting forever.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future as ConcurrentFuture
from concurrent.futures import InvalidStateError
from typing import Any

import cloudpickle
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from distlab.contracts import (
    DistlabError,
    EngineStartError,
    Future,
    StreamEngine,
    TaskEngine,
    apply_chunk,
    chunked,
    with_remote_traceback,
)
from distlab.engines.kafka.worker import CONTROL_KEY
from distlab.procs import port_open, split_host_port, stop_pids
from distlab.services.kafka.broker import KafkaBroker, create_topics, delete_topics

#: how long start() waits for the consumer group to cover every task partition
GROUP_READY_TIMEOUT = 60.0
#: how long an unreachable user cluster may take to fail
CONNECT_TIMEOUT = 8.0


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
        #: results that arrived again for an already finished task (at-least-once re-runs)
        self.duplicates = 0
        #: unreadable messages found on the results topic
        self.foreign_messages = 0
        #: dead worker processes replaced (option restart_workers, default True)
        self.restart_workers = bool(self.options.get("restart_workers", True))
        self.worker_restarts = 0
        self.broker: KafkaBroker | None = None
        self._procs: list[subprocess.Popen] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._futures: dict[bytes, ConcurrentFuture] = {}
        self._next_id = 0
        self._assignments: dict[int, set[int]] = {}
        self._assigned = threading.Condition(self._lock)
        self._producer = self._consumer = self._thread = None
        self._topics: list[str] = []
        self._logdir: tempfile.TemporaryDirectory | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> KafkaEngine:
        if self.started:
            return self
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.started = True
        return self

    def _start(self) -> None:
        self.workers = self.workers or os.cpu_count() or 1
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
        self._closing.clear()

        if self.address:
            self.bootstrap = self.address.split("://", 1)[-1]
            _check_reachable(self.bootstrap)
        else:
            self.broker = KafkaBroker().start()
            self.bootstrap = self.broker.bootstrap

        run = uuid.uuid4().hex[:12]
        self.tasks_topic, self.results_topic = f"distlab-tasks-{run}", f"distlab-results-{run}"
        self.group = f"distlab-workers-{run}"
        self._topics = [self.tasks_topic, self.results_topic]
        # one results partition per worker: each has a single writer (see kafka_worker)
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
        # The results topic is new and ours alone: read it from the beginning without a
        # group (no join delay), so no result or assignment note can be missed.
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"distlab-driver-{run}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": self.fetch_wait_ms,
                "fetch.max.bytes": self.max_message_bytes,
                "max.partition.fetch.bytes": self.max_message_bytes,
                "receive.message.max.bytes": self.max_message_bytes + 1_000_000,
            }
        )
        self._consumer.assign(
            [TopicPartition(self.results_topic, p, OFFSET_BEGINNING) for p in range(self.workers)]
        )
        self._thread = threading.Thread(
            target=self._receive, name="distlab-kafka-results", daemon=True
        )
        self._thread.start()

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
        owned = [p for parts in self._assignments.values() for p in parts]
        return (
            sum(1 for parts in self._assignments.values() if parts) == self.workers
            and len(owned) == len(set(owned)) == self.partitions
        )

    def _wait_for_group(self) -> None:
        deadline = time.monotonic() + GROUP_READY_TIMEOUT
        with self._assigned:
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
                        f"within {GROUP_READY_TIMEOUT:.0f}s (assigned: {self._assignments})"
                    )
                self._assigned.wait(0.1)

    def _worker_log_tail(self, index: int) -> str:
        try:
            with open(os.path.join(self._logdir.name, f"worker-{index}.log"), "rb") as f:
                lines = f.read()[-2000:].decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else "(no output)"
        except OSError:
            return "(no log)"

    def close(self) -> None:
        self._closing.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        procs, self._procs = self._procs, []
        if procs:
            stop_pids([p.pid for p in procs], grace=5.0)
            for p in procs:
                p.wait(timeout=5)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
        if self.address and self._topics:
            # On the user's cluster, leave nothing of ours behind.
            delete_topics(self.bootstrap, self._topics)
            _delete_group(self.bootstrap, self.group)
        self._topics = []
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self._logdir is not None:
            self._logdir.cleanup()
            self._logdir = None
        with self._lock:
            pending, self._futures = list(self._futures.values()), {}
        for fut in pending:
            _settle(fut, exc=DistlabError("the kafka engine was closed before the task finished"))
        self.started = False

    # -- the results side ----------------------------------------------------------------
    def _receive(self) -> None:
        next_liveness_check = time.monotonic() + 1.0
        while not self._closing.is_set():
            self._producer.poll(0)  # serve delivery reports (failed produces)
            try:
                msg = self._consumer.poll(0.05)
            except (KafkaException, RuntimeError):
                msg = None
            if msg is not None and not msg.error():
                try:
                    if msg.key() == CONTROL_KEY:
                        self._note_assignment(json.loads(msg.value()))
                    else:
                        self._deliver(msg.key(), msg.value())
                except Exception:  # a foreign message on our topic must not stop the thread
                    self.foreign_messages += 1
            if time.monotonic() > next_liveness_check:
                next_liveness_check = time.monotonic() + 1.0
                self._fail_if_no_workers()

    def _note_assignment(self, note: dict) -> None:
        with self._assigned:
            self._assignments[note["worker"]] = set(note["partitions"])
            self._assigned.notify_all()

    def _deliver(self, task_id: bytes, payload: bytes) -> None:
        with self._lock:
            fut = self._futures.pop(task_id, None)
            if fut is None:
                # Ids are sequential: a known id with no pending future was answered before.
                if int(task_id) < self._next_id:
                    self.duplicates += 1
                return
        try:
            ok, value = pickle.loads(payload)
        except Exception as exc:
            ok, value = False, DistlabError(f"cannot unpickle the task's outcome: {exc}")
        if ok:
            _settle(fut, result=value)
        else:
            _settle(fut, exc=with_remote_traceback(value))

    def _replace_dead_workers(self) -> None:
        """Start a worker in place of each one that died: a supervisor's job, as Celery's
        pool does for its children. The group rebalances; unacknowledged tasks of the dead
        worker are consumed again by the others or the replacement (at-least-once)."""
        if not self.restart_workers or not self.started or self._closing.is_set():
            return
        for index, proc in enumerate(self._procs):
            if proc.poll() is not None:
                self._procs[index] = self._spawn_worker(index)
                self.worker_restarts += 1

    def _fail_if_no_workers(self) -> None:
        self._replace_dead_workers()
        if not self.started or not self._procs or any(p.poll() is None for p in self._procs):
            return
        with self._lock:
            pending, self._futures = list(self._futures.values()), {}
        for fut in pending:
            _settle(fut, exc=EngineStartError("every kafka worker process has exited"))

    # -- the task side -------------------------------------------------------------------
    def _produce(self, fn_blob: bytes, args: tuple, kwargs: dict) -> ConcurrentFuture:
        if not self.started:
            raise DistlabError("the kafka engine is not started")
        fut: ConcurrentFuture = ConcurrentFuture()
        value = cloudpickle.dumps((fn_blob, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            task_id = str(self._next_id).encode()
            partition = self._next_id % self.partitions  # spread evenly over the workers
            self._next_id += 1
            self._futures[task_id] = fut

        def delivered(err, _msg):
            if err is not None:
                with self._lock:
                    self._futures.pop(task_id, None)
                _settle(fut, exc=DistlabError(f"could not send the task to Kafka: {err.str()}"))

        while True:
            try:
                self._producer.produce(
                    self.tasks_topic, value, key=task_id, partition=partition, on_delivery=delivered
                )
                return fut
            except BufferError:  # local queue full: let it drain
                self._producer.poll(0.05)
            except KafkaException as exc:
                with self._lock:
                    self._futures.pop(task_id, None)
                raise DistlabError(f"could not send the task to Kafka: {exc}") from None

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if resources:
            raise DistlabError("the kafka engine does not schedule by resources")
        fut = self._produce(_dump_fn(fn), tuple(args), kwargs or {})
        self._producer.poll(0)
        return fut

    def map(self, fn, items, *, chunksize=None) -> list[Any]:
        items = list(items)
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
    def run_stream(self, spec) -> dict[str, Any]:
        """The stream workload (distlab.workloads.stream.StreamSpec) on this engine's
        workers; see distlab.engines.kafka.stream."""
        from distlab.engines.kafka.stream import run_on_kafka_engine

        return run_on_kafka_engine(self, spec)

    # -- observation ---------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.poll() is None]

    def process_roots(self) -> list[int]:
        roots = [p.pid for p in self._procs]
        if self.broker is not None and self.broker.pid is not None:
            roots.append(self.broker.pid)
        return roots

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address or "embedded",
            "broker": "user cluster" if self.address else "tansu (embedded, in-memory)",
            "workers": self.workers,
            "partitions": getattr(self, "partitions", None),
            "session_timeout_ms": getattr(self, "session_timeout_ms", None),
            "fetch_wait_ms": getattr(self, "fetch_wait_ms", None),
            "delivery": "at-least-once (duplicates dropped by the driver)",
            "restart_workers": self.restart_workers,
        }


def _dump_fn(fn) -> bytes:
    return cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)


def _settle(fut: ConcurrentFuture, result: Any = None, exc: BaseException | None = None) -> None:
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
    except InvalidStateError:  # cancelled by the caller meanwhile
        pass


def _check_reachable(bootstrap: str) -> None:
    """Fail fast (one line) when none of the user's bootstrap servers answers."""
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    try:
        hosts = [split_host_port(s, 9092) for s in servers]
    except ValueError as exc:
        raise EngineStartError(f"bad Kafka address {bootstrap!r}: {exc}") from None
    if not any(port_open(h, p, timeout=2.0) for h, p in hosts):
        raise EngineStartError(f"no Kafka broker answers at {bootstrap}")
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=CONNECT_TIMEOUT)
    except KafkaException as exc:
        raise EngineStartError(
            f"Kafka at {bootstrap} did not answer a metadata request: {exc}"
        ) from None


def _delete_group(bootstrap: str, group: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        for fut in admin.delete_consumer_groups([group], request_timeout=5).values():
            fut.result(timeout=10)
    except Exception:
        pass  # best effort: an empty group expires on its own
