"""A stream run as processes of the engine's own runner (Bytewax's ``bytewax.run``, a Quix
Streams application): started for one stream with what to do in an environment variable,
their output in a folder of ours, checked while the driver waits, stopped by PID once it
has read the sinks (a Kafka source never ends on its own).

The driver side is the shared Kafka harness, on an embedded Apache Kafka broker (or
``spec.bootstrap``); these runners cannot say when they read their partitions, so the
harness's probes (``probe_warm_up``) start the clock once they came back through the
pass-through.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.procs import stop_pids


class ProcessRun:
    """The processes of one stream run, each writing its output to a log of its own."""

    def __init__(self, label: str, commands: list[list[str]], env: dict[str, str], folder: str):
        self.label = label
        self.logs = [os.path.join(folder, f"process-{i}.log") for i in range(len(commands))]
        self.processes: list[subprocess.Popen] = []
        try:
            for command, log in zip(commands, self.logs, strict=True):
                with open(log, "wb") as out:
                    self.processes.append(
                        subprocess.Popen(command, env=env, stdout=out, stderr=out)
                    )
        except BaseException:
            self.stop()
            raise

    def check(self) -> None:
        """Raise when a process of the run has ended (its source never ends on its own)."""
        for process, log in zip(self.processes, self.logs, strict=False):
            if process.poll() is not None:
                raise DistlabError(
                    f"a {self.label} process exited ({process.returncode}): {last_line(log)}"
                )

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def stop(self) -> None:
        stop_pids([p.pid for p in self.processes], grace=3.0)
        for process in self.processes:
            process.wait(timeout=10)


def last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"


@dataclass
class StreamProcesses:
    """How an engine runs one stream as processes: its runner's name (in errors), the
    environment variable its processes read their settings from, and the commands."""

    label: str
    env_var: str
    #: (settings, workers) -> one command per process
    commands: Callable[[dict[str, Any], int], list[list[str]]]


class ProcessStreams:
    """The lifecycle of an engine whose streams run as processes (mixed in before
    StreamEngine): nothing runs between streams, so starting makes a folder for the runs
    and closing stops a run still going."""

    #: the runner's library: a start without it fails, not the first stream
    runner_module: ClassVar[str] = ""
    _folder: str | None = None
    _run: ProcessRun | None = None

    def _start(self) -> None:
        if self.address:
            raise DistlabError(
                f"{self.name} takes no --address: each stream runs its own processes"
            )
        if importlib.util.find_spec(self.runner_module) is None:
            raise DistlabError(f"{self.runner_module} is not installed")
        self._folder = tempfile.mkdtemp(prefix=f"distlab-{self.name}-")

    def close(self) -> None:
        if self._run is not None:
            self._run.stop()
            self._run = None
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self.started = False

    def worker_pids(self) -> list[int]:
        return self._run.pids() if self._run is not None else []

    def process_roots(self) -> list[int]:
        return self.worker_pids()

    def _run_processes(
        self, how: StreamProcesses, spec: StreamSpec, workers: int, extra: dict[str, Any]
    ) -> tuple[StreamResult, int, dict[str, str]]:
        """(what the sinks received, the source partitions, the broker's settings)."""
        from distlab.services.kafka.harness import StreamTopics, drive, probe_warm_up

        if self._folder is None:
            raise DistlabError(f"the {how.label} engine is not started")
        partitions = spec.partitions or workers
        with StreamTopics(spec.bootstrap, partitions) as topics:
            folder = tempfile.mkdtemp(dir=self._folder)
            settings = {
                "bootstrap": topics.bootstrap,
                "topics": topics.names,
                "partitions": partitions,
                "spec": spec.to_dict(),
                "folder": folder,
                **extra,
            }
            env = {**os.environ, how.env_var: json.dumps(settings), "PYTHONUNBUFFERED": "1"}
            self._run = run = ProcessRun(how.label, how.commands(settings, workers), env, folder)
            try:
                source = topics.names["source"]
                result = drive(
                    topics.bootstrap,
                    spec,
                    topics.names,
                    partitions,
                    warm_up=probe_warm_up(
                        topics.bootstrap, source, partitions, run.check, how.label
                    ),
                    check=run.check,
                )
            finally:
                run.stop()
                self._run = None
                shutil.rmtree(folder, ignore_errors=True)
            return result, partitions, topics.broker_settings
