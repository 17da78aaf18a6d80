"""Bytewax adapter: the stream suites on real ``python -m bytewax.run`` processes (two
workers: a cluster of two processes on loopback) reading and writing a real Apache Kafka
broker, and what every engine of its kind must do (conformance/process_streams.py)."""

from __future__ import annotations

import threading
import time

import psutil

from conformance.lifecycle import LifecycleConformance
from conformance.process_streams import ProcessStreamsConformance
from conformance.streams import StreamConformance
from distlab.contracts import StreamSpec
from present import require_module

require_module("bytewax")  # skipped locally, failed in CI (tests/present.py)


class TestBytewaxEngine(LifecycleConformance, StreamConformance, ProcessStreamsConformance):
    engine_name = "bytewax"
    library = "bytewax"
    runner = "Bytewax"

    def test_workers_are_bytewax_processes_in_one_cluster(self, engine):
        seen: list[list[str]] = []

        def watch() -> None:
            deadline = time.monotonic() + 60
            while not seen and time.monotonic() < deadline:
                pids = engine.worker_pids()
                if len(pids) == 2:
                    seen.append([" ".join(psutil.Process(p).cmdline()) for p in pids])
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        engine.run_stream(StreamSpec(n_events=300, rate=500.0, window_ms=250, keys=4))
        watcher.join()
        assert seen, "two worker processes were never seen"
        lines = seen[0]
        assert all("bytewax.run" in line for line in lines), lines
        assert sorted(line.split(" -i ")[1].split()[0] for line in lines) == ["0", "1"]
        assert engine.worker_pids() == []  # a stream's processes end with it
