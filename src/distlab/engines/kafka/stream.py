"""The stream workload on the Kafka engine: distlab's Kafka stream processors
(distlab.services.kafka.processor) on the engine's worker processes; the driver side
(topics, paced sender, sink reader) is distlab.services.kafka.harness, shared with Flink,
Spark and the raw pipe.

One processor per worker process (at most one per source partition), each reading its
share of the source partitions with one consumer, as the members of a consumer group do:
a task sent to each worker (to a task partition that worker owns) starts the processor
in a thread and returns at once (the engine's tasks run one at a time, and a processor
runs until its partitions' end markers). The top-N query adds one more task: the merger
that ranks each window across partitions.
"""

from __future__ import annotations

import os
import threading

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import TOP_N
from distlab.services.kafka.clients import FETCH_WAIT_MS
from distlab.services.kafka.harness import StreamTopics, broker_settings, drive
from distlab.services.kafka.processor import process_partitions, run_merger, spread


def _start_thread(target, args: tuple, name: str) -> int:
    threading.Thread(target=target, args=args, name=name, daemon=True).start()
    return os.getpid()


def start_processor(bootstrap: str, topics: dict, partitions: list[int], spec: dict) -> int:
    """Engine task: start the processor of some source partitions on this worker and
    return at once (the worker's pid), so the worker can take another task too."""
    args = (bootstrap, topics, partitions, spec)
    return _start_thread(process_partitions, args, f"distlab-stream-{partitions[0]}")


def start_merger(bootstrap: str, topics: dict, partitions: int, spec: dict) -> int:
    """Engine task: start the top-N merger on this worker and return at once."""
    return _start_thread(run_merger, (bootstrap, topics, partitions, spec), "distlab-merge")


def run_on_kafka_engine(engine, spec: StreamSpec) -> StreamResult:
    """KafkaEngine.run_stream: topics on the engine's broker (or spec.bootstrap), one
    processor per worker process, the driver sends and reads."""
    if not engine.started:
        raise DistlabError("the kafka engine is not started")
    # one source partition per processor, as on every engine that hosts these processors:
    # the task topic's partitions (2 per worker, for rebalancing) made each consumer read
    # two, and each send and fetch carry half the batch (p50 267 ms against Dask's 44 ms
    # at 10,000 events/s, on one core)
    partitions = spec.partitions or max(1, engine.workers)
    with StreamTopics(spec.bootstrap or engine.bootstrap, partitions) as topics:
        spec_dict, names = spec.to_dict(), topics.names
        shares = spread(partitions, engine.workers)
        tasks = engine.submit_to_each_worker(
            start_processor, *[(topics.bootstrap, names, share, spec_dict) for share in shares]
        )
        if spec.query == TOP_N:
            tasks.append(
                engine.submit(start_merger, topics.bootstrap, names, partitions, spec_dict)
            )
        hosts = engine.gather(tasks)
        result = drive(topics.bootstrap, spec, names, partitions, announced=True)
    merger = " and a top-N merger thread" if spec.query == TOP_N else ""
    result.notes = (
        f"source: Kafka topic ({partitions} partitions); {len(shares)} processor threads "
        f"(one consumer each){merger} on {len(set(hosts))} engine worker process(es); "
        "sinks: Kafka topics"
    )
    result.settings = {
        "partitions": partitions,
        "processors": len(shares),
        "partitions_per_processor": [len(share) for share in shares],
        "worker_processes_used": len(set(hosts)),
        "fetch_wait_ms": FETCH_WAIT_MS,
        "broker": broker_settings(None if spec.bootstrap else engine.broker(), topics.bootstrap),
    }
    return result
