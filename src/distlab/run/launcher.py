"""Starting an engine process and following it: used by ``distlab run`` and the benches.

The child runs ``python -m MODULE MODE JOB EVENTS`` (``distlab.run.cell`` for the matrix,
``distlab.bench.process`` for a benchmark) with the engine's own interpreter
(Flink's environment for Flink), in a session of its own (our Ctrl-C handling decides
when it stops), and stops by itself if we die (it watches ``DISTLAB_PARENT_PID``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import psutil

from distlab import registry
from distlab.procs import stop_pids
from distlab.run.model import Event, decode_event


class ProcessJob(Protocol):
    """What an engine process is given: a matrix's EngineJob or a benchmark's BenchJob."""

    engine: str

    def to_json(self) -> str: ...


def interpreter_for(name: str) -> str:
    """The Python that runs an engine's cells (an engine may have its own environment)."""
    if name == "reference":
        return sys.executable
    hook = registry.entry(name).interpreter
    if not hook:
        return sys.executable
    module, func = hook.split(":")
    return getattr(importlib.import_module(module), func)()


class EngineProcess:
    """One engine process, followed through its events file."""

    def __init__(
        self,
        job: ProcessJob,
        workdir: Path,
        python: str | None = None,
        mode: str = "run",
        label: str | None = None,
        wrap: list[str] | None = None,
        module: str = "distlab.run.cell",
        env: dict[str, str] | None = None,
    ):
        """``wrap``: a command prefix, e.g. ``ip netns exec HOST`` (the driver's host);
        ``env``: variables set for the process beyond ours."""
        self.name = label or job.engine
        self.job_path = workdir / f"{self.name}.job.json"
        self.events_path = workdir / f"{self.name}.events.jsonl"
        self.log_path = workdir / f"{self.name}.log"
        self.job_path.write_text(job.to_json())
        self.events_path.write_text("")
        self._offset = 0
        self._known: set[int] = set()
        python = python or interpreter_for(job.engine)
        cmd = [*(wrap or []), python, "-m", module, mode, str(self.job_path),
               str(self.events_path)]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # our Ctrl-C handling decides when it stops
                env={
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    "DISTLAB_PARENT_PID": str(os.getpid()),
                    **(env or {}),
                },  # fmt: skip
            )

    def new_events(self) -> list[Event]:
        """Events written since the last call (only whole lines)."""
        self._remember_tree()
        with open(self.events_path, encoding="utf-8") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        return [decode_event(line) for line in complete.splitlines() if line.strip()]

    def log_tail(self, lines: int = 1) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def _remember_tree(self) -> None:
        # Processes whose parent dies are re-parented; remember PIDs while we can see them.
        try:
            p = psutil.Process(self.proc.pid)
            self._known |= {c.pid for c in p.children(recursive=True)}
        except psutil.Error:
            pass

    def stop(self, grace: float = 20.0) -> None:
        """Ask the engine process to close its engine, then stop whatever is left by PID."""
        self._remember_tree()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        stop_pids([self.proc.pid, *self._known], grace=5.0)
