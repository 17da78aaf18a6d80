"""The engine contract: the one small interface every engine adapter implements.

An engine runs Python callables somewhere else and hands back futures. The contract is
modelled on concurrent.futures.Executor: adapters implement ``start``, ``close`` and
``submit_with``; everything else (``submit``, ``map`` with optional chunking, ``gather``,
``share``, ``with`` support) has a working default built on those.

Semantics every adapter must keep (the conformance suite in tests/ checks them):

* ``submit`` returns a future: an object with ``result(timeout=None)`` and ``done()``.
* ``map(fn, items)`` returns a list in the order of ``items``.
* An exception raised by a task is raised in the caller as the *same type*; the remote
  traceback text is reachable as ``exc.__cause__`` (a :class:`RemoteTraceback`) or in
  the message, so users see where it failed on the worker.
* ``share(obj)`` returns a handle that, passed as a top-level argument to ``submit``,
  arrives in the task as ``obj``; engines without an object store pass it by value.
* ``close`` stops every process and server the adapter started (by PID, never by name)
  and leaves no listening port behind; it is idempotent.

Capabilities are plain class attributes that the runner reads (never isinstance).
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

# Workload shapes (DESIGN.md): tasks, batch, streams.
TASKS = "tasks"
BATCH = "batch"
STREAMS = "streams"


class DistlabError(Exception):
    """An error meant for the user: printed as one line, exit code 2."""


class EngineUnavailable(DistlabError):
    """The engine's library is not installed (carries the install hint)."""


class EngineStartError(DistlabError):
    """The engine (or the server it needs) could not be started or reached."""


class UnsatisfiableResources(DistlabError):
    """A task asked for more of a resource than the whole cluster has."""


class RemoteTraceback(Exception):
    """Carries the traceback text of a task that failed on a worker."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


_TB_ATTR = "_distlab_remote_tb"


def call_capturing(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``fn`` on a worker; on failure tag the exception with its traceback text.

    Exception attributes survive pickling (BaseException.__reduce__ keeps __dict__), so
    the caller can rebuild the remote traceback whatever the engine's transport.
    """
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        try:
            setattr(exc, _TB_ATTR, traceback.format_exc())
        except Exception:  # exceptions with __slots__: keep the error, lose the text
            pass
        raise


def with_remote_traceback(exc: BaseException) -> BaseException:
    """Attach the tagged remote traceback (if any) as ``__cause__`` and return ``exc``."""
    text = getattr(exc, _TB_ATTR, None)
    if text and not isinstance(exc.__cause__, RemoteTraceback):
        exc.__cause__ = RemoteTraceback(text)
    return exc


@runtime_checkable
class Future(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...

    def done(self) -> bool: ...


class ActorHandle(Protocol):
    """A stateful worker object: ``call(method, *args)`` returns a future."""

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future: ...


def _apply_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in chunk]


def _map_combine_file(path: str, mapper, reducer) -> dict:
    out: dict = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            for k, v in mapper(line):
                out[k] = reducer(out[k], v) if k in out else v
    return out


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    it = iter(items)
    return [list(c) for c in iter(lambda: list(itertools.islice(it, size)), [])]


class Engine:
    """Base class of every engine adapter.

    Subclasses set the class attributes below and implement ``start``, ``close`` and
    ``submit_with``; they may override ``gather``/``map``/``share`` where the engine
    has a faster native path. An adapter imports its engine library only inside its
    own module (distlab.engines.<name>), so importing distlab stays cheap.
    """

    name: ClassVar[str] = "?"
    #: distribution names whose versions are recorded with the results
    libraries: ClassVar[tuple[str, ...]] = ()
    #: which workload shapes the engine runs (TASKS, BATCH, STREAMS)
    shapes: ClassVar[frozenset[str]] = frozenset({TASKS})
    #: submit_with(resources=...) schedules by named resources (e.g. {"GPU": 1})
    supports_resources: ClassVar[bool] = False
    #: create_actor() gives stateful workers
    supports_actors: ClassVar[bool] = False
    #: share() uses a native object store / scatter / broadcast (else by value)
    supports_shared_objects: ClassVar[bool] = False
    #: the engine needs an external server (a broker); started on loopback if no address
    needs_server: ClassVar[bool] = False
    #: form of --address for this engine, shown in help and errors
    address_help: ClassVar[str] = ""
    #: named built-in (non-Python-UDF) operations run_builtin() offers, e.g. {"wordcount"}
    builtin_ops: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def interpreter(cls) -> str | None:
        """A Python that must run this engine's cells (its own virtual environment).

        None means the current interpreter. An engine whose pins conflict with the rest
        (Flink) returns the path of its own environment's python, creating it if needed.
        """
        return None

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        self.address = address
        self.workers = workers
        self.options = options
        self.started = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Engine:
        """Start an embedded cluster (or connect to ``address``). Idempotent."""
        self.started = True
        return self

    def close(self) -> None:
        """Stop everything this adapter started. Idempotent."""
        self.started = False

    def __enter__(self) -> Engine:
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- tasks -----------------------------------------------------------------------
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
        return self.submit_with(fn, args, kwargs)

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        """Results in order; the first failure is raised (as its original type)."""
        return [f.result() for f in futures]

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, chunksize: int | None = None
    ) -> list[Any]:
        """``[fn(x) for x in items]`` on the workers, in order.

        ``chunksize`` > 1 sends items in batches, one task per batch (the cure for
        per-task overhead); None or 1 means one task per item.
        """
        items = list(items)
        if chunksize and chunksize > 1:
            futures = [self.submit(_apply_chunk, fn, c) for c in chunked(items, chunksize)]
            return [r for part in self.gather(futures) for r in part]
        return self.gather([self.submit(fn, x) for x in items])

    def share(self, obj: Any) -> Any:
        """Put ``obj`` where every task can read it; pass the handle to submit."""
        return obj

    # -- batch -------------------------------------------------------------------------
    def map_reduce(
        self,
        paths: Sequence[str],
        mapper: Callable[[str], Iterable[tuple[Any, Any]]],
        reducer: Callable[[Any, Any], Any],
    ) -> dict[Any, Any]:
        """Hadoop-style map/reduce over the lines of text files: ``mapper(line)`` yields
        (key, value) pairs, ``reducer(a, b)`` folds two values of one key.

        The default runs one task per file (mapper plus a local combine) and the final
        reduce in the driver; batch engines override it with their native operators.
        """
        parts = self.gather([self.submit(_map_combine_file, p, mapper, reducer) for p in paths])
        out: dict[Any, Any] = {}
        for part in parts:
            for k, v in part.items():
                out[k] = reducer(out[k], v) if k in out else v
        return out

    def run_builtin(self, op: str, **params: Any) -> Any:
        """Run a named operation with the engine's built-in operators (see builtin_ops)."""
        raise NotImplementedError(f"{self.name} has no built-in {op!r}")

    # -- optional capabilities ----------------------------------------------------------
    def create_actor(self, cls: type, *args: Any, **kwargs: Any) -> ActorHandle:
        raise NotImplementedError(f"{self.name} has no actors")

    def resource_totals(self) -> dict[str, float]:
        """Named resources the cluster offers (for failing fast on impossible requests)."""
        return {}

    # -- the engine's own API, for measuring the adapter's overhead ------------------------
    def native_noop_tasks(self, n: int) -> list[Any]:
        """Run ``probes.noop(i)`` for i in range(n) through the engine's own API (no
        adapter code in the path), submitted at once, results in order. Used only by
        `distlab bench tiny-tasks` to put a number on what the adapter costs."""
        raise NotImplementedError

    # -- observation -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """PIDs of worker processes on this machine (for fault injection)."""
        return []

    def process_roots(self) -> list[int]:
        """PIDs (besides the driver's own tree) whose trees belong to this engine."""
        return []

    def describe(self) -> dict[str, Any]:
        """Settings worth recording with the results (address, worker count, ...)."""
        return {"address": self.address or "embedded", "workers": self.workers}
