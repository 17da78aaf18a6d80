"""Quix Streams: a Python stream-processing library on the Kafka client (a consumer group
application with its state in RocksDB).

Each stream is one application (distlab.engines.quixstreams.app) run as its users run
one: a process per worker, ``python -m distlab.engines.quixstreams.app``, all in one
consumer group of their own, which splits the topics' partitions among them; its state
in a folder of ours; stopped by PID once the driver has read the sinks
(engines/common/stream_processes.py). Quix makes its own topics for the grouping and its
state's changelogs on the stream's broker.

This module imports neither quixstreams nor confluent_kafka at the top: the registry
loads it to read its declarations.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from distlab.contracts import StreamResult, StreamSpec
from distlab.contracts.streams import TOP_N, StreamEngine
from distlab.engines.common.stream_processes import ProcessStreams, StreamProcesses
from distlab.engines.quixstreams.plugin import PLUGIN


def _commands(_settings: dict[str, Any], workers: int) -> list[list[str]]:
    return [
        [sys.executable, "-m", "distlab.engines.quixstreams.app", str(i)] for i in range(workers)
    ]


QUIX_APP = StreamProcesses("Quix Streams", "DISTLAB_QUIX_APP", _commands)


class QuixstreamsEngine(ProcessStreams, StreamEngine):
    name = "quixstreams"
    plugin = PLUGIN
    jobs_start_fresh = True  # every stream is an application run of its own processes
    runner_module = "quixstreams"

    def run_stream(self, spec: StreamSpec) -> StreamResult:
        group = f"distlab-quix-{uuid.uuid4().hex[:10]}"
        result, partitions, broker = self._run_processes(
            QUIX_APP, spec, self.workers, {"group": group}
        )
        how = (
            "hopping windows summed per key, ranked in one stateful step once every key passed them"
            if spec.query == TOP_N
            else "tumbling windows per key, count and sum"
        )
        result.notes = (
            f"source: Kafka topic ({partitions} partitions); a Quix Streams application "
            f"({how}, event time, closed by key, no grace; grouped by key through a topic) "
            f"on {self.workers} process(es) in one consumer group; sinks: Kafka topics"
        )
        result.settings = {
            "worker_processes": self.workers,
            "partitions": partitions,
            "consumer_group": group,
            "processing_guarantee": "at-least-once (Quix's default)",
            "state": "RocksDB with changelog topics (Quix's default)",
            "broker": broker,
        }
        return result

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runtime": "one application process per worker"}
