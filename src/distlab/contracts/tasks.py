"""The tasks contract: run Python callables on workers and hand back futures.

Modelled on concurrent.futures.Executor: an adapter writes one method, ``submit_with``;
``submit``, ``map`` (with optional chunking), ``gather`` and ``share`` have working
defaults built on it, which an adapter may replace with a faster native path.

Semantics every task engine keeps (``tests/conformance/tasks.py`` checks them on a real
cluster):

* ``submit`` returns a future: an object with ``result(timeout=None)`` and ``done()``.
* ``map(fn, items)`` returns a list in the order of ``items``.
* An exception raised by a task is raised in the caller as the *same type*; the remote
  traceback text is reachable as ``exc.__cause__`` (a RemoteTraceback) or in the message.
* ``share(obj)`` returns a handle that, passed as a top-level argument to ``submit``,
  arrives in the task as ``obj``; engines without an object store pass it by value.
* A task that asked for named resources (``submit_with(resources={"GPU": 1})``) finds
  the unit ids it was granted with :func:`granted_units`, whatever the engine: each
  adapter publishes the grant in the task's environment (``DISTLAB_RESOURCE_UNITS``).
* An impossible resource request fails at once with UnsatisfiableResources.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from distlab.contracts.lifecycle import TASKS, Engine
from distlab.contracts.tasklog import TaskLog

#: the environment variable a task reads its granted resource units from (JSON,
#: e.g. {"GPU": ["1"]}); every resource-scheduling adapter sets it for the task
RESOURCE_UNITS_ENV = "DISTLAB_RESOURCE_UNITS"


def granted_units(resource: str = "GPU") -> list[str]:
    """Inside a task: the ids of the ``resource`` units this task was granted."""
    declared = os.environ.get(RESOURCE_UNITS_ENV)
    if not declared:
        return []
    return [str(u) for u in json.loads(declared).get(resource, [])]


def units_environment(units: dict[str, Sequence[Any]]) -> dict[str, str]:
    """The environment that publishes ``units`` ({resource: ids}) to a task. GPUs are also
    named in CUDA_VISIBLE_DEVICES, as GPU libraries expect."""
    env = {RESOURCE_UNITS_ENV: json.dumps({k: [str(u) for u in v] for k, v in units.items()})}
    if "GPU" in units:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(u) for u in units["GPU"])
    return env


@runtime_checkable
class Future(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...

    def done(self) -> bool: ...


class ActorHandle(Protocol):
    """A stateful worker object: ``call(method, *args)`` returns a future."""

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future: ...


def apply_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in chunk]


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    it = iter(items)
    return [list(c) for c in iter(lambda: list(itertools.islice(it, size)), [])]


class TaskEngine(Engine):
    """An engine that runs tasks: implement ``submit_with``."""

    contract_shape: ClassVar[str] = TASKS
    #: set by the engine process while a fault is injected: every task sent through
    #: ``submit`` records its start and end (distlab.contracts.tasklog); None otherwise
    task_log: TaskLog | None = None

    def submit_with(
        self,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        *,
        resources: dict[str, float] | None = None,
    ) -> Future:
        """Run ``fn(*args, **kwargs)`` on a worker; the one method an adapter must write."""
        raise NotImplementedError

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        log = self.task_log
        if log is None:
            return self.submit_with(fn, args, kwargs)
        fn, args = log.wrap(fn, args)
        return log.observe(self.submit_with(fn, args, kwargs), args)

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        """Results in order; the first failure is raised (as its original type)."""
        return [f.result() for f in futures]

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, chunksize: int | None = None
    ) -> list[Any]:
        """``[fn(x) for x in items]`` on the workers, in order.

        ``chunksize`` > 1 sends items in batches, one task per batch (the cure for
        per-task overhead); None or 1 means one task per item. An adapter that replaces
        this with a native path falls back to it while ``task_log`` is set, so that every
        task is recorded.
        """
        items = list(items)
        if chunksize and chunksize > 1:
            futures = [self.submit(apply_chunk, fn, c) for c in chunked(items, chunksize)]
            return [r for part in self.gather(futures) for r in part]
        return self.gather([self.submit(fn, x) for x in items])

    def share(self, obj: Any) -> Any:
        """Put ``obj`` where every task can read it; pass the handle to submit."""
        return obj

    # -- optional capabilities (declared by the supports_* flags) ------------------------
    def create_actor(self, cls: type, *args: Any, **kwargs: Any) -> ActorHandle:
        raise NotImplementedError(f"{self.name} has no actors")

    def resource_totals(self) -> dict[str, float]:
        """Named resources the cluster offers (for failing fast on impossible requests)."""
        return {}
