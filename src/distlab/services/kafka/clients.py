"""Kafka clients as distlab's stream code uses them: factories with its settings, a poll
that does not wait for a full batch, and a producer that checks every delivery report.

Used by the driver-side stream harness (distlab.services.kafka.harness), the Kafka
engine's stream processors (distlab.engines.kafka.stream) and Flink's warm-up probes.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from distlab.contracts import DistlabError

#: the longest a fetch waits on the broker when no data are there. Apache Kafka answers
#: a fetch as soon as data arrive (fetch.min.bytes is 1), so this adds no latency; it only
#: bounds idle polling.
FETCH_WAIT_MS = 100
#: how often a message whose delivery failed is produced again before giving up
RESEND_ATTEMPTS = 5


def take(consumer: Consumer, timeout: float = 0.05, most: int = 1000) -> list:
    """What has arrived (up to ``most`` more after the first): waits up to ``timeout`` for
    the first message only (``consume(n, t)`` would wait the whole ``t`` for ``n``)."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(most, 0)]


def producer(bootstrap: str, **settings) -> Producer:
    """A producer for stream traffic: 1 ms linger, every write acknowledged; ``settings``
    are added to the client's configuration."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 1,
            "acks": "all",
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 0,
            **settings,
        }
    )


def consumer(bootstrap: str, name: str) -> Consumer:
    """A consumer for ``assign``-ed partitions: ``name`` is required by the client, but no
    offsets are read or committed."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": name,
            "enable.auto.commit": False,
            "fetch.wait.max.ms": FETCH_WAIT_MS,
            "log_level": 0,
        }
    )


class ReliableProducer:
    """A producer that checks every delivery report. With ``resend``, a message whose
    delivery failed is produced again to the same partition (up to RESEND_ATTEMPTS times;
    for sinks, whose order does not matter); a message that failed for good raises
    DistlabError at the next ``poll``/``flush``, and so does a ``flush`` that leaves
    messages undelivered. One delivery callback for the whole producer, called for
    failures only: no callback object per message."""

    def __init__(self, bootstrap: str, resend: bool = True, in_order: bool = False, **settings):
        # in_order: the idempotent producer keeps each partition in send order even when
        # a request is retried (without it, a retried batch can land after a later one)
        settings |= {"delivery.report.only.error": True, "enable.idempotence": in_order}
        self.producer = producer(bootstrap, on_delivery=self._on_delivery, **settings)
        self.resend = resend
        self._retry: list[tuple[str, bytes, int | None]] = []
        self._attempts: dict[tuple[str, bytes], int] = {}  # failed messages only
        self._failed: list[str] = []

    def _on_delivery(self, err, msg) -> None:
        if err is None:
            return
        key = (msg.topic(), msg.value())
        attempt = self._attempts.get(key, 1)
        if self.resend and attempt < RESEND_ATTEMPTS:
            self._attempts[key] = attempt + 1
            partition = msg.partition()
            self._retry.append((msg.topic(), msg.value(), partition if partition >= 0 else None))
        else:
            self._failed.append(f"{msg.topic()}: {err.str()}")

    def send(self, topic: str, value: bytes, partition: int | None = None) -> None:
        while True:
            try:
                if partition is None:
                    self.producer.produce(topic, value)
                else:
                    self.producer.produce(topic, value, partition=partition)
                return
            except BufferError:  # local queue full: let it drain
                self.poll(0.01)

    def poll(self, timeout: float = 0) -> None:
        self.producer.poll(timeout)
        self._settle()

    def _settle(self) -> None:
        if self._failed:
            raise DistlabError(
                f"{len(self._failed)} Kafka message(s) could not be delivered "
                f"(first: {self._failed[0]})"
            )
        retry, self._retry = self._retry, []
        for topic, value, partition in retry:
            self.send(topic, value, partition)

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = self.producer.flush(max(0.0, deadline - time.monotonic()))
            self._settle()
            if left == 0 and not self._retry:
                return
            if time.monotonic() >= deadline:
                raise DistlabError(f"{left} Kafka message(s) undelivered after {timeout:g} s")
