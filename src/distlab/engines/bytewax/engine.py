"""Bytewax: a Python stream processor on a Rust dataflow runtime (Timely Dataflow).

Each stream is one dataflow run (distlab.engines.bytewax.flow) as Bytewax runs one:
``python -m bytewax.run`` processes, one per worker, joined into a cluster on loopback
(``-i``/``-a``; a single worker runs alone), reading the source topic with Bytewax's own
Kafka input and writing the sinks with its Kafka output. A Kafka input never ends, so
the run is stopped by PID once the driver has read the sinks; nothing lives between
streams (the engine has no server of its own).

This module imports neither bytewax nor confluent_kafka at the top: the registry loads
it to read its declarations.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import TOP_N, StreamEngine
from distlab.engines.bytewax.plugin import PLUGIN
from distlab.procs import free_port, stop_pids

#: what ``python -m bytewax.run`` loads (see flow.build)
FLOW = "distlab.engines.bytewax.flow:build()"


class BytewaxRun:
    """The processes of one dataflow run, their output in a folder of ours."""

    def __init__(self, workers: int, conf: dict[str, Any], folder: str):
        env = {**os.environ, "DISTLAB_BYTEWAX_FLOW": json.dumps(conf), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "bytewax.run", FLOW]
        if workers == 1:
            per_process = [["-w", "1"]]
        else:
            addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(workers))
            per_process = [["-i", str(i), "-a", addresses] for i in range(workers)]
        self.logs = [os.path.join(folder, f"process-{i}.log") for i in range(len(per_process))]
        self.processes: list[subprocess.Popen] = []
        try:
            for args, log in zip(per_process, self.logs, strict=True):
                with open(log, "wb") as out:
                    self.processes.append(
                        subprocess.Popen(command + args, env=env, stdout=out, stderr=out)
                    )
        except BaseException:
            self.stop()
            raise

    def check(self) -> None:
        """Raise when a process of the run has ended (a Kafka input never ends on its own)."""
        for process, log in zip(self.processes, self.logs, strict=False):
            if process.poll() is not None:
                raise DistlabError(
                    f"a Bytewax process exited ({process.returncode}): {_last_line(log)}"
                )

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def stop(self) -> None:
        stop_pids([p.pid for p in self.processes], grace=3.0)
        for process in self.processes:
            process.wait(timeout=10)


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"


class BytewaxEngine(StreamEngine):
    name = "bytewax"
    plugin = PLUGIN
    jobs_start_fresh = True  # every stream is a dataflow run of its own processes

    def _start(self) -> None:
        if self.address:
            raise DistlabError("bytewax takes no --address: each stream runs its own processes")
        import bytewax  # noqa: F401  (a missing install fails the start, not the first stream)

        self._folder = tempfile.mkdtemp(prefix="distlab-bytewax-")
        self._run: BytewaxRun | None = None

    def close(self) -> None:
        run = getattr(self, "_run", None)
        if run is not None:
            run.stop()
            self._run = None
        folder = getattr(self, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            self._folder = None
        self.started = False

    def worker_pids(self) -> list[int]:
        run = getattr(self, "_run", None)
        return run.pids() if run is not None else []

    def process_roots(self) -> list[int]:
        return self.worker_pids()

    def run_stream(self, spec: StreamSpec) -> StreamResult:
        from distlab.services.kafka.harness import StreamTopics, drive, probe_warm_up

        if not self.started:
            raise DistlabError("the bytewax engine is not started")
        partitions = spec.partitions or self.workers
        with StreamTopics(spec.bootstrap, partitions) as topics:
            broker = topics.broker_settings
            conf = {
                "bootstrap": topics.bootstrap,
                "topics": topics.names,
                "partitions": partitions,
                "spec": spec.to_dict(),
            }
            folder = tempfile.mkdtemp(dir=self._folder)
            self._run = run = BytewaxRun(self.workers, conf, folder)
            try:
                result = drive(
                    topics.bootstrap,
                    spec,
                    topics.names,
                    partitions,
                    warm_up=probe_warm_up(
                        topics.bootstrap, topics.names["source"], partitions, run.check, "Bytewax"
                    ),
                    check=run.check,
                )
            finally:
                run.stop()
                self._run = None
                shutil.rmtree(folder, ignore_errors=True)
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
