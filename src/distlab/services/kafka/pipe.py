"""The raw pipe: the ceiling of every stream figure. The same paced producer, the same
broker and the same sink reader as the stream engines, with nothing but the plainest
consumer/producer loop between source and sink: every event copied as it is, no parsing,
no filter, no window.

The loop runs in a process of its own (``python -m distlab.services.kafka.pipe``), as an
engine's processors do, so it never shares an interpreter with the sender or the reader.
It reads every source partition (``assign``, no group), announces each partition on the
events sink (``READY_ID,partition``, as the Kafka engine's processors do), writes each
message to the same partition of the events sink, and exits once every partition's end
marker passed through.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID
from distlab.services.kafka import clients
from distlab.services.kafka.harness import StreamTopics, drive
from distlab.services.kafka.processor import READY_ID

#: the most messages taken from the consumer at once
BATCH = 10_000


def copy_loop(bootstrap: str, source: str, sink: str, partitions: int) -> None:
    """Copy every message of ``source`` to ``sink`` (same partition) until each partition's
    end marker is through."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    # the stream code's own clients: 1 ms linger, every write acknowledged
    consumer = clients.consumer(bootstrap, f"distlab-raw-pipe-{source}")
    producer = clients.producer(bootstrap)
    consumer.assign([TopicPartition(source, p, OFFSET_BEGINNING) for p in range(partitions)])
    consumer.consume(1, 0.5)  # the assignment is live once a first fetch came back
    for p in range(partitions):
        producer.produce(sink, f"{READY_ID},{p}".encode(), partition=p)
    producer.flush(10)
    end = str(END_ID).encode() + b","
    open_partitions = set(range(partitions))
    while open_partitions:
        for msg in clients.take(consumer, most=BATCH):
            if msg.error():
                continue
            value = msg.value()
            producer.produce(sink, value, partition=msg.partition())
            if value.startswith(end):
                open_partitions.discard(msg.partition())
        producer.poll(0)
    producer.flush(30)
    consumer.close()


def run_raw_pipe(spec: StreamSpec) -> StreamResult:
    """One stream through the raw pipe on an embedded broker (or ``spec.bootstrap``)."""
    partitions = spec.partitions or 2
    with StreamTopics(spec.bootstrap, partitions) as topics:
        names = topics.names
        command = [sys.executable, "-m", "distlab.services.kafka.pipe", topics.bootstrap]
        command += [names["source"], names["sink_events"], str(partitions)]
        loop = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:

            def check() -> None:
                if loop.poll() not in (None, 0):
                    why = (loop.stderr.read() or b"").decode(errors="replace").strip()
                    raise DistlabError(f"the raw pipe's loop failed: {why[-300:]}")

            # every event is a "passing" one: the workload's expected set is all ids
            result = drive(
                topics.bootstrap,
                spec,
                names,
                partitions,
                announced=True,
                check=check,
                expect_all=True,
            )
            loop.wait(timeout=30)
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.wait(timeout=5)
            loop.stderr.close()
        result.settings = {
            "partitions": partitions,
            "loop": "one consumer/producer process, batches of up to 10,000",
            "broker": topics.broker_settings,
        }
    result.notes = "raw pipe: every event copied from the source to the sink, nothing else"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("source")
    parser.add_argument("sink")
    parser.add_argument("partitions", type=int)
    args = parser.parse_args(argv)
    copy_loop(args.bootstrap, args.source, args.sink, args.partitions)


if __name__ == "__main__":
    main()
