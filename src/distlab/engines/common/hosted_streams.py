"""The stream workload on a task engine that has no stream API of its own for Kafka (Ray,
Dask): distlab's Kafka stream processors (distlab.services.kafka.processor) hosted where
that engine's users put a long-running consumer, as they do when they read Kafka from
Ray or Dask. Each engine says how it hosts one (``host(fn, *args) -> future``): Ray in an
actor per processor, Dask in a task that secedes from its worker's thread pool (Dask's
way for a task that runs for long). The driver side is the shared Kafka harness, on an
embedded Apache Kafka broker (or ``spec.bootstrap``).

One processor per worker (at most one per source partition, each reading its share of
the partitions with one consumer) and, for the top-N query, the merger; the figures
therefore measure the engine's placement and its workers' interpreters around the same
Kafka loops the Kafka engine runs on its own worker processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import TOP_N
from distlab.services.kafka.harness import StreamTopics, drive
from distlab.services.kafka.processor import process_partitions, run_merger, spread

Host = Callable[..., Any]


class LongRunning:
    """An actor that runs one long function call (a processor) and returns its result."""

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


class KeptActors:
    """LongRunning actors kept from one stream to the next, as a user keeps long-lived
    consumers, rather than a new worker process per processor per stream; forgotten
    (and made anew) after a stream that failed, in which one may have died."""

    def __init__(self, create: Callable[[], Any]):
        self._create = create
        self._actors: list[Any] = []

    def run_stream(self, engine, spec: StreamSpec, hosted_in: str) -> StreamResult:
        used = itertools.count()

        def host(fn: Callable[..., Any], *args: Any) -> Any:
            i = next(used)
            while len(self._actors) <= i:
                self._actors.append(self._create())
            return self._actors[i].call("run", fn, *args)

        try:
            return run_hosted(engine, spec, host, hosted_in)
        except BaseException:
            self._actors.clear()
            raise


def run_hosted(engine, spec: StreamSpec, host: Host, hosted_in: str) -> StreamResult:
    """``engine.run_stream`` for an engine that hosts processors with ``host``."""
    if not engine.started:
        raise DistlabError(f"the {engine.name} engine is not started")
    partitions = spec.partitions or max(1, engine.workers or 1)
    with StreamTopics(spec.bootstrap, partitions) as topics:
        spec_dict, names = spec.to_dict(), topics.names
        shares = spread(partitions, engine.workers or 1)
        hosted = [
            host(process_partitions, topics.bootstrap, names, share, spec_dict) for share in shares
        ]
        if spec.query == TOP_N:
            hosted.append(host(run_merger, topics.bootstrap, names, partitions, spec_dict))
        result = drive(topics.bootstrap, spec, names, partitions, announced=True)
        engine.gather(hosted)  # each has ended with its partitions' end markers
        broker = topics.broker_settings
    merger = " and a top-N merger" if spec.query == TOP_N else ""
    result.notes = (
        f"source: Kafka topic ({partitions} partitions); {len(shares)} of distlab's Kafka "
        f"processors (one consumer each{merger}) hosted in {hosted_in}; sinks: Kafka topics"
    )
    result.settings = {
        "partitions": partitions,
        "processors": len(shares),
        "partitions_per_processor": [len(share) for share in shares],
        "hosted_in": hosted_in,
        "broker": broker,
    }
    return result
