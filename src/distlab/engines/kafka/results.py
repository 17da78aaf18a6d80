"""The Kafka engine's results side: the futures of the tasks in flight, and the driver's
thread that reads the results topic and settles them.

Task ids are sequential (``b"0"``, ``b"1"``, ...), so a result for a known id whose future
is gone was answered before: an at-least-once re-run, counted as a duplicate and dropped
(the first result stands). The workers' assignment notes (key CONTROL_KEY, see
distlab.engines.kafka.worker) arrive on the same topic; ``assigned`` is notified for each.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future as ConcurrentFuture
from concurrent.futures import InvalidStateError
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from distlab.contracts import DistlabError, with_remote_traceback
from distlab.engines.kafka.worker import CONTROL_KEY


def settle(fut: ConcurrentFuture, result: Any = None, exc: BaseException | None = None) -> None:
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
    except InvalidStateError:  # cancelled by the caller meanwhile
        pass


class TaskResults:
    """Pending futures by task id, settled by a thread reading ``topic``.

    ``tick()`` is called on that thread between polls (the engine serves its producer's
    delivery reports and watches its workers there); ``on_duplicate()`` for each result
    of an already finished task."""

    def __init__(
        self,
        consumer_config: dict[str, Any],
        topic: str,
        partitions: int,
        tick: Callable[[], None],
        on_duplicate: Callable[[], None],
        id_prefix: bytes = b"",
    ):
        #: starts every task id of this driver: on topics that outlive it (workers started
        #: elsewhere), the results of an earlier driver are told apart and left alone
        self.id_prefix = id_prefix
        self.tick = tick
        self.on_duplicate = on_duplicate
        #: unreadable messages found on the results topic
        self.foreign_messages = 0
        #: worker index -> task partitions it announced it owns
        self.assignments: dict[int, set[int]] = {}
        self._lock = threading.Lock()
        #: notified whenever a worker announces its partitions
        self.assigned = threading.Condition(self._lock)
        self._futures: dict[bytes, ConcurrentFuture] = {}
        self._next_id = 0
        self._closing = threading.Event()
        # The results topic is new and ours alone (or, with workers started elsewhere, the
        # ids tell our results apart): read it from the beginning without a group (no
        # join delay), so no result or assignment note can be missed.
        self._consumer = Consumer(consumer_config)
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        self._thread = threading.Thread(
            target=self._receive, name="distlab-kafka-results", daemon=True
        )
        self._thread.start()

    # -- the task side -------------------------------------------------------------------
    def track(self) -> tuple[bytes, int, ConcurrentFuture]:
        """A new task: (its id, its sequence number, its future)."""
        fut: ConcurrentFuture = ConcurrentFuture()
        with self._lock:
            seq = self._next_id
            self._next_id += 1
            task_id = self.id_prefix + str(seq).encode()
            self._futures[task_id] = fut
        return task_id, seq, fut

    def fail(self, task_id: bytes, exc: BaseException) -> None:
        """The task never reached the workers: fail its future, forget the id."""
        with self._lock:
            fut = self._futures.pop(task_id, None)
        if fut is not None:
            settle(fut, exc=exc)

    def fail_all(self, exc: BaseException) -> None:
        with self._lock:
            pending, self._futures = list(self._futures.values()), {}
        for fut in pending:
            settle(fut, exc=exc)

    # -- the results topic ---------------------------------------------------------------
    def _receive(self) -> None:
        while not self._closing.is_set():
            self.tick()
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

    def _note_assignment(self, note: dict) -> None:
        with self.assigned:
            self.assignments[note["worker"]] = set(note["partitions"])
            self.assigned.notify_all()

    def _deliver(self, task_id: bytes, payload: bytes) -> None:
        with self._lock:
            fut = self._futures.pop(task_id, None)
            if fut is None:
                # Ids are sequential: a known id with no pending future was answered before.
                prefix = self.id_prefix
                if task_id.startswith(prefix) and int(task_id[len(prefix) :]) < self._next_id:
                    self.on_duplicate()
                return
        try:
            ok, value = pickle.loads(payload)
        except Exception as exc:
            ok, value = False, DistlabError(f"cannot unpickle the task's outcome: {exc}")
        if ok:
            settle(fut, result=value)
        else:
            settle(fut, exc=with_remote_traceback(value))

    def close(self, reason: str) -> None:
        """Stop reading and fail every task still pending with ``reason``. Idempotent."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self.fail_all(DistlabError(reason))
