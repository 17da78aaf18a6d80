"""What the benchmarks read of an engine beyond the task contract: optional, and nothing a
user of the task contract needs. An engine offers them by defining them (no base class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: where data is copied when it is a task's argument, a task's result, or shared once
#: (``share``) and read by many tasks: an engine's ``data_path`` class attribute replaces
#: it (said in `distlab bench data-size`'s table)
DEFAULT_DATA_PATH: dict[str, str] = {
    "argument": "pickled into the task's message",
    "result": "pickled into the result's message",
    "shared": "by value: pickled into every task that uses it",
}


@runtime_checkable
class DescribesDataPath(Protocol):
    """An engine that says where its data is copied (its ``data_path`` class attribute,
    keyed like DEFAULT_DATA_PATH)."""

    data_path: dict[str, str]


def data_path(engine: object) -> dict[str, str]:
    """The engine's own account of where its data is copied, else the default one."""
    return dict(engine.data_path if isinstance(engine, DescribesDataPath) else DEFAULT_DATA_PATH)


@runtime_checkable
class NativeNoopTasks(Protocol):
    """An engine that can run ``probes.noop(i)`` for i in range(n) through its own API
    (no adapter code in the path), submitted at once, results in order: `distlab bench
    tiny-tasks` puts a number on what the adapter costs with it."""

    def native_noop_tasks(self, n: int) -> list[Any]: ...


@runtime_checkable
class NativeJobs(NativeNoopTasks, Protocol):
    """A job queue's own API, enqueueing apart from collecting (`distlab bench queues`):
    ``enqueue_jobs(n, work_ms)`` sends ``noop(i)`` for i in range(n) (each busy for
    ``work_ms`` first) through the queue's own enqueue and returns its handles;
    ``job_results(handles)`` collects them, in order, through its own result API."""

    def enqueue_jobs(self, n: int, work_ms: float = 0.0) -> list[Any]: ...

    def job_results(self, handles: list[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class Loss:
    """A task the engine gave up on (TaskLost): when, who noticed, in what words."""

    #: time.time() when the caller was told
    at: float
    #: "the queue" (it reported the task failed) or "distlab" (its watch: a worker died
    #: and the task did not come back in time)
    noticed_by: str
    message: str


@runtime_checkable
class NoticesLosses(Protocol):
    """An engine that records every task it gave up on, in order: a fault's record says
    who noticed the loss and how long after the kill (a queue that never reports one
    leaves it to distlab's watch)."""

    losses: list[Loss]
