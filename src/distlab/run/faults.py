"""Fault injection during a cell's first measured repetition (``--kill-worker``).

The faulted repetition is timed and verified like the others but reported on its own:
its wall time never enters the medians that rank engines. The record says which process
was killed, when, and whether the run was still in flight at that moment; a kill that hit
nothing, or came after the run had finished, is reported as such.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from distlab.contracts import Engine


class WorkerKiller:
    """SIGKILLs one of the engine's worker processes ``delay`` seconds into a run."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.record: dict[str, Any] = {}
        self._timer: threading.Timer | None = None
        self._run_started = 0.0
        self._run_ended: float | None = None

    @property
    def done(self) -> bool:
        return bool(self.record)

    def arm(self, expected_s: float | None) -> None:
        """Start the timer for a run that is about to start (expected to last about
        ``expected_s``: the kill lands at 40% of it)."""
        delay = max(0.05, 0.4 * (expected_s or 0.5))
        self._run_started, self._run_ended = time.perf_counter(), None
        self._timer = threading.Timer(delay, self._kill, args=(delay,))
        self._timer.daemon = True
        self._timer.start()

    def run_ended(self) -> None:
        """Called the moment the faulted run returned (before anything else)."""
        self._run_ended = time.perf_counter()

    def disarm(self, wall_s: float) -> dict[str, Any]:
        """Wait for the timer (outside the timed region) and return the record."""
        if self._timer is not None:
            self._timer.join()
        if not self.record:
            self.record["error"] = "no worker was killed"
        self.record["faulted_wall_s"] = round(wall_s, 4)
        return self.record

    def _kill(self, delay: float) -> None:
        in_flight = self._run_ended is None
        pids = self.engine.worker_pids()
        if not pids:
            self.record.update(error="the engine reported no worker process to kill")
            return
        pid = pids[0]
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            self.record.update(error=f"could not kill {pid}: {exc}")
            return
        self.record.update(killed_pid=pid, at_s=round(delay, 3), in_flight=in_flight)
        if not in_flight:
            self.record["note"] = "the run had already finished: the kill hit no task"
