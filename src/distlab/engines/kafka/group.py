"""The Kafka engine's worker processes (distlab.engines.kafka.worker), started on this
machine and stopped by PID: each with its own log file, replaced when one dies."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from distlab.contracts import EngineStartError
from distlab.engines.kafka.worker import worker_command
from distlab.procs import stop_pids

#: how long start() waits for the consumer group to cover every task partition
GROUP_READY_TIMEOUT = 60.0


class WorkerProcesses:
    """``count`` workers started with ``worker_command(index=i, **options)``."""

    def __init__(self, count: int, **options: str | int):
        self.count = count
        self.options = options
        self.procs: list[subprocess.Popen] = []
        self._logdir = tempfile.TemporaryDirectory(prefix="distlab-kafka-")

    def start(self) -> None:
        for index in range(self.count):
            self.procs.append(self._spawn(index))

    def _log_path(self, index: int) -> str:
        return os.path.join(self._logdir.name, f"worker-{index}.log")

    def _spawn(self, index: int) -> subprocess.Popen:
        env = dict(os.environ)
        # Functions pickled by reference (importable modules) must import on the worker too.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        command = worker_command(index=index, parent_pid=os.getpid(), **self.options)
        with open(self._log_path(index), "wb") as log:
            return subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def replace_dead(self) -> int:
        """Start a new process in place of each dead one; return how many."""
        replaced = 0
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                self.procs[index] = self._spawn(index)
                replaced += 1
        return replaced

    def first_dead(self) -> str | None:
        """Why a worker is gone (its exit status and last log line), or None."""
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                return f"exited with code {proc.returncode}: {self.log_tail(index)}"
        return None

    def any_alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def pids(self, alive_only: bool = True) -> list[int]:
        return [p.pid for p in self.procs if not alive_only or p.poll() is None]

    def log_tail(self, index: int) -> str:
        try:
            with open(self._log_path(index), "rb") as f:
                lines = f.read()[-2000:].decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else "(no output)"
        except OSError:
            return "(no log)"

    def stop(self, grace: float) -> None:
        procs, self.procs = self.procs, []
        if procs:
            stop_pids([p.pid for p in procs], grace=grace)
            for p in procs:
                p.wait(timeout=5)
        self._logdir.cleanup()


def wait_for_assignment(
    results: Any, group: WorkerProcesses | None, workers: int, partitions: int
) -> None:
    """Until every worker owns task partitions and together they own each exactly once
    (``results``: the engine's TaskResults, which sees the group's assignments); a worker
    of ``group`` that dies meanwhile (None: workers started elsewhere), or
    GROUP_READY_TIMEOUT, fails the start."""

    def ready() -> bool:
        owned = [p for parts in results.assignments.values() for p in parts]
        return (
            sum(1 for parts in results.assignments.values() if parts) == workers
            and len(owned) == len(set(owned)) == partitions
        )

    deadline = time.monotonic() + GROUP_READY_TIMEOUT
    with results.assigned:
        while not ready():
            dead = group.first_dead() if group is not None else None
            if dead:
                raise EngineStartError(f"a kafka worker {dead} (at start-up)")
            if time.monotonic() > deadline:
                raise EngineStartError(
                    f"the kafka worker group did not take all {partitions} partitions "
                    f"within {GROUP_READY_TIMEOUT:.0f}s (assigned: {results.assignments})"
                )
            results.assigned.wait(0.1)
