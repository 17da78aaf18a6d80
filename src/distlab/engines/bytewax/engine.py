"""Bytewax: a Python stream processor on a Rust dataflow runtime (Timely Dataflow).

Each stream is one dataflow run (distlab.engines.bytewax.flow) as Bytewax runs one:
``python -m bytewax.run`` processes, one per worker, joined into a cluster on loopback
(``-i``/``-a``; a single worker runs alone), reading the source topic with Bytewax's own
Kafka input and writing the sinks with its Kafka output; stopped by PID once the driver
has read the sinks (engines/common/stream_processes.py). Nothing lives between streams:
the engine has no server of its own.

This module imports neither bytewax nor confluent_kafka at the top: the registry loads
it to read its declarations.
"""

from __future__ import annotations

import sys
from typing import Any

from distlab.contracts import StreamResult, StreamSpec
from distlab.contracts.streams import TOP_N, StreamEngine
from distlab.engines.bytewax.plugin import PLUGIN
from distlab.engines.common.stream_processes import ProcessStreams, StreamProcesses
from distlab.procs import free_port

#: what ``python -m bytewax.run`` loads (see flow.build)
FLOW = "distlab.engines.bytewax.flow:build()"


def _commands(_settings: dict[str, Any], workers: int) -> list[list[str]]:
    command = [sys.executable, "-m", "bytewax.run", FLOW]
    if workers == 1:
        return [command + ["-w", "1"]]
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(workers))
    return [command + ["-i", str(i), "-a", addresses] for i in range(workers)]


BYTEWAX_RUN = StreamProcesses("Bytewax", "DISTLAB_BYTEWAX_FLOW", _commands)


class BytewaxEngine(ProcessStreams, StreamEngine):
    name = "bytewax"
    plugin = PLUGIN
    jobs_start_fresh = True  # every stream is a dataflow run of its own processes
    runner_module = "bytewax"

    def run_stream(self, spec: StreamSpec) -> StreamResult:
        result, partitions, broker = self._run_processes(BYTEWAX_RUN, spec, self.workers, {})
        how = "sliding windows folded per source partition, ranked once every partition closed them" if spec.query == TOP_N else "tumbling windows folded per key"  # fmt: skip
        result.notes = (
            f"source: Kafka topic ({partitions} partitions) read by Bytewax's Kafka input; "
            f"a Bytewax dataflow ({how}, event time) on {self.workers} worker process(es) "
            "(python -m bytewax.run); sinks: Kafka topics through Bytewax's Kafka output"
        )
        result.settings = {
            "worker_processes": self.workers,
            "partitions": partitions,
            "clock": "event time, watermark = the largest event time seen per key",
            "broker": broker,
        }
        return result

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runtime": "python -m bytewax.run, one process per worker"}
