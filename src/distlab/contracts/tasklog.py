"""Task starts and ends, recorded on the workers while a fault is injected.

Fault injection needs two facts no engine API gives in the same form: which worker
process is running one of this run's tasks right now (the victim of ``--kill-worker``
must be one), and how many times each task was started (a task re-run after its worker
died is a duplicate execution, whether or not its result arrives twice).

When the engine process arms a :class:`TaskLog` on an engine (``engine.task_log``),
:meth:`TaskEngine.submit <distlab.contracts.tasks.TaskEngine.submit>` sends each task as
``run_recorded(record, fn, *args)``: the record carries a task id the driver chose and
the log's path, so a re-delivered task keeps its id wherever it runs. On the worker,
``run_recorded`` appends ``S id pid time`` before the call and ``E id pid time`` after
it (one short O_APPEND write each: lines never interleave). A killed worker writes no
``E``. Unarmed (``task_log`` None, the normal case) nothing is wrapped and nothing is
written: the cost is one attribute test per submit.

The log is a file on this machine: workers of a remote cluster write it on theirs (or
cannot), so a run whose tasks left no start in the log says so rather than guess.

A log armed for a timeline (``TaskLog(timeline=True)``, distlab.run.timeline) also keeps
the driver's two ends of each task on the same clock (``time.time``: the test hosts share
one kernel clock with the driver): when it was submitted, and when the caller took its
result (the future's first ``result()`` to return; callers take results in submission
order, so that time includes any wait for earlier results, which the timeline counts
apart).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG_NAME = "tasks.log"


def _append(path: str, line: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError:  # a worker that cannot see the driver's file system: nothing recorded
        return
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def run_recorded(record: tuple[str, int], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """On a worker: record this task's start and end around ``fn(*args, **kwargs)``."""
    path, task_id = record
    pid = os.getpid()
    _append(path, f"S {task_id} {pid} {time.time():.6f}\n")
    try:
        return fn(*args, **kwargs)
    finally:
        _append(path, f"E {task_id} {pid} {time.time():.6f}\n")


@dataclass
class Execution:
    task_id: int
    pid: int
    start: float
    end: float | None = None


@dataclass
class LogState:
    """What the log says so far: every execution by (task id, pid) in start order."""

    executions: list[Execution] = field(default_factory=list)

    def running(self) -> list[Execution]:
        return [x for x in self.executions if x.end is None]

    def started_ids(self) -> set[int]:
        return {x.task_id for x in self.executions}

    def reexecutions(self) -> int:
        """Starts beyond the first of each task id: duplicate executions."""
        return len(self.executions) - len(self.started_ids())

    def rerun_ids(self) -> list[int]:
        counts: dict[int, int] = {}
        for x in self.executions:
            counts[x.task_id] = counts.get(x.task_id, 0) + 1
        return sorted(t for t, n in counts.items() if n > 1)

    def finished_ids(self) -> set[int]:
        return {x.task_id for x in self.executions if x.end is not None}


class ObservedFuture:
    """An engine's future that notes when its result was first taken (a failure too)."""

    def __init__(self, inner: Any, task_id: int, received_at: dict[int, float]):
        self.inner, self._id, self._received = inner, task_id, received_at

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self.inner.result(timeout=timeout)
        finally:
            self._received.setdefault(self._id, time.time())

    def done(self) -> bool:
        return self.inner.done()


class TaskLog:
    """The driver's side: task ids, the log file, and reading it back as it grows."""

    def __init__(self, directory: str | None = None, *, timeline: bool = False):
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="distlab-tasklog-")
            directory = self._tmp.name
        self.path = os.path.join(directory, LOG_NAME)
        open(self.path, "a").close()  # noqa: SIM115 (exists from the start: readable at once)
        self._ids = itertools.count()
        #: tasks sent through the log so far
        self.submitted = 0
        self.state = LogState()
        self._open: dict[tuple[int, int], Execution] = {}
        self._offset = 0
        self._partial = b""
        #: with ``timeline``: task id -> when it was submitted / its result taken (driver)
        self.timeline = timeline
        self.submitted_at: dict[int, float] = {}
        self.received_at: dict[int, float] = {}

    def wrap(self, fn: Callable[..., Any], args: tuple) -> tuple[Callable[..., Any], tuple]:
        """``(run_recorded, (record, fn, *args))`` for a task about to be submitted."""
        task_id = next(self._ids)
        self.submitted += 1
        if self.timeline:
            self.submitted_at[task_id] = time.time()
        return run_recorded, ((self.path, task_id), fn, *args)

    def observe(self, future: Any, record_args: tuple) -> Any:
        """With ``timeline``: ``future``, noting when its result is first taken."""
        if not self.timeline:
            return future
        return ObservedFuture(future, record_args[0][1], self.received_at)

    def read(self) -> LogState:
        """Take in what the workers appended since the last read."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return self.state
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for the next read
        for raw in lines:
            parts = raw.split()
            if len(parts) != 4:
                continue
            kind, task_id, pid, t = parts[0], int(parts[1]), int(parts[2]), float(parts[3])
            if kind == b"S":
                x = Execution(task_id, pid, t)
                self.state.executions.append(x)
                self._open[(task_id, pid)] = x
            elif kind == b"E":
                x = self._open.pop((task_id, pid), None)
                if x is not None:
                    x.end = t
        return self.state

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
