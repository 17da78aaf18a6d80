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


def take(consumer: Consumer, timeout: float = 0.05) -> list:
    """What has arrived: waits up to ``timeout`` for the first message only
    (``consume(n, t)`` would wait the whole ``t`` for ``n`` messages)."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(1000, 0)]


def producer(bootstrap: str) -> Producer:
    """A producer for stream traffic: 1 ms linger, every write acknowledged."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 1,
            "acks": "all",
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 0,
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
    delivery failed is produced again (up to RESEND_ATTEMPTS times; for sinks, whose
    order does not matter); a message that failed for good raises DistlabError at the next
    ``poll``/``flush``, and so does a ``flush`` that leaves messages undelivered."""

    def __init__(self, bootstrap: str, resend: bool = True):
        self.producer = producer(bootstrap)
        self.resend = resend
        self._retry: list[tuple[str, bytes, int | None, int]] = []
        self._failed: list[str] = []

    def _report(self, attempt: int, partition: int | None):
        def on_delivery(err, msg) -> None:
            if err is None:
                return
            if self.resend and attempt < RESEND_ATTEMPTS:
                self._retry.append((msg.topic(), msg.value(), partition, attempt + 1))
            else:
                self._failed.append(f"{msg.topic()}: {err.str()}")

        return on_delivery

    def send(self, topic: str, value: bytes, partition: int | None = None, attempt: int = 1):
        kwargs = {"on_delivery": self._report(attempt, partition)}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self.producer.produce(topic, value, **kwargs)
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
        for topic, value, partition, attempt in retry:
            self.send(topic, value, partition, attempt)

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = self.producer.flush(max(0.0, deadline - time.monotonic()))
            self._settle()
            if left == 0 and not self._retry:
                return
            if time.monotonic() >= deadline:
                raise DistlabError(f"{left} Kafka message(s) undelivered after {timeout:g} s")
