"""The stream workload on the Kafka engine: its own stream processors, run on the
engine's worker processes; the driver side (topics, paced sender, sink reader) is
distlab.services.kafka.harness, shared with Flink.

One task per source partition starts a processor thread in whichever worker the task
lands on and returns at once, so several processors can share a worker (the engine's
tasks run one at a time, and a processor runs until its partition's end marker). A
processor reads its partition with ``assign`` (no group rebalance can move its window
state), filters, passes kept events through and closes a key's tumbling window when its
partition's event time moves past the window's end (events of one partition arrive in
event-time order); the end marker (event_id -1) closes the rest.

Processor ``p`` writes partition ``p`` of each sink (as many sink partitions as source
partitions): the sinks are partitioned like the source.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID
from distlab.services.kafka.clients import FETCH_WAIT_MS, ReliableProducer, consumer, producer, take
from distlab.services.kafka.harness import ERROR_ID, READY_ID, StreamTopics, broker_settings, drive


def _process_partition(bootstrap: str, topics: dict, partition: int, spec: dict) -> None:
    """A processor thread's body: a failure is reported to the driver on the events sink
    (the thread has nobody else to tell), on the processor's own partition."""
    try:
        _run_processor(bootstrap, topics, partition, spec)
    except Exception as exc:
        reason = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]
        with contextlib.suppress(Exception):
            reporter = producer(bootstrap)
            reporter.produce(
                topics["sink_events"], f"{ERROR_ID},{partition},{reason}".encode(), partition
            )
            reporter.flush(5)


def _run_processor(bootstrap: str, topics: dict, partition: int, spec: dict) -> None:
    window_ms, filter_min = spec["window_ms"], spec["filter_min"]
    source = consumer(bootstrap, f"distlab-stream-proc-{topics['source']}-{partition}")
    source.assign([TopicPartition(topics["source"], partition, OFFSET_BEGINNING)])
    # sink order does not matter (arrivals are stamped, windows collected): failed
    # deliveries are produced again, and one that fails for good ends the processor.
    sink = ReliableProducer(bootstrap, resend=True)
    sink_events, sink_windows = topics["sink_events"], topics["sink_windows"]
    # open windows of this partition: key -> window_start -> [count, sum]
    open_windows: dict[int, dict[int, list[int]]] = {}
    open_start = None  # the newest window start seen on this partition

    def close_before(limit: int | None) -> None:
        for key in list(open_windows):
            per_key = open_windows[key]
            for start in sorted(per_key):
                if limit is not None and start >= limit:
                    continue
                count, total = per_key.pop(start)
                sink.send(sink_windows, f"{key},{start},{count},{total}".encode(), partition)
            if not per_key:
                del open_windows[key]

    deadline = time.monotonic() + spec["timeout_s"]
    try:
        # The assignment is live once a first fetch came back (empty or not).
        take(source, 0.5)
        sink.send(sink_events, f"{READY_ID},{partition}".encode(), partition)
        sink.flush(10)
        while time.monotonic() < deadline:
            for msg in take(source):
                if msg.error():
                    continue
                eid, key, value, event_ms = map(int, msg.value().split(b","))
                if eid == END_ID:
                    close_before(None)
                    sink.send(sink_events, f"{END_ID},{partition}".encode(), partition)
                    sink.flush(30)  # everything delivered, or an error
                    return
                start = event_ms - event_ms % window_ms
                if open_start is not None and start > open_start:
                    close_before(start)  # event time moved past those windows' end
                open_start = start if open_start is None else max(open_start, start)
                if value < filter_min:
                    continue
                sink.send(sink_events, str(eid).encode(), partition)
                slot = open_windows.setdefault(key, {}).setdefault(start, [0, 0])
                slot[0] += 1
                slot[1] += value
            sink.poll(0)  # serves delivery reports
        raise DistlabError(f"no end marker within {spec['timeout_s']:g} s")
    finally:
        with contextlib.suppress(Exception):
            sink.producer.flush(5)
        source.close()


def start_processor(bootstrap: str, topics: dict, partition: int, spec: dict) -> int:
    """Engine task: start the processor of one source partition on this worker and return
    at once (the worker's pid), so the worker can take the next partition's task too."""
    thread = threading.Thread(
        target=_process_partition,
        args=(bootstrap, topics, partition, spec),
        name=f"distlab-stream-{partition}",
        daemon=True,
    )
    thread.start()
    return os.getpid()


def run_on_kafka_engine(engine, spec: StreamSpec) -> StreamResult:
    """KafkaEngine.run_stream: topics on the engine's broker (or spec.bootstrap), one
    processor per source partition on the engine's workers, the driver sends and reads."""
    if not engine.started:
        raise DistlabError("the kafka engine is not started")
    partitions = spec.partitions or engine.partitions
    with StreamTopics(spec.bootstrap or engine.bootstrap, partitions) as topics:
        spec_dict = spec.to_dict()
        hosts = engine.gather(
            [
                engine.submit(start_processor, topics.bootstrap, topics.names, p, spec_dict)
                for p in range(partitions)
            ]
        )
        result = drive(topics.bootstrap, spec, topics.names, partitions, announced=True)
    result.notes = (
        f"source: Kafka topic ({partitions} partitions); {partitions} processor threads "
        f"on {len(set(hosts))} engine worker process(es); sinks: Kafka topics"
    )
    result.settings = {
        "partitions": partitions,
        "processors": partitions,
        "worker_processes_used": len(set(hosts)),
        "fetch_wait_ms": FETCH_WAIT_MS,
        "broker": broker_settings(None if spec.bootstrap else engine.broker(), topics.bootstrap),
    }
    return result
