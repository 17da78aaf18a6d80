"""Tasks on a pool of threads of the driver's process.

The threads are daemons: a task still running when the driver exits (a script that never
closed its engine, a killed driver) ends with the process instead of keeping it alive,
as distlab asks of everything an engine starts. ``close`` stops the pool and waits up to
``close_wait_s`` for running tasks. The threads share one interpreter (one GIL): this
engine is for waiting work (I/O, sleeps, C code that releases the GIL), not for pure
Python computing.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from distlab.contracts import EngineStartError, TaskEngine, call_capturing
from distlab.contracts.errors import with_remote_traceback
from distlab_threads.plugin import PLUGIN

#: what a worker thread takes from the queue to stop
_STOP = None


class ThreadsEngine(TaskEngine):
    name = "threads"
    plugin = PLUGIN
    address_help = "none: the threads run in the driver's process"
    data_path = {
        "argument": "none: the task reads the caller's object (same process)",
        "result": "none: the caller reads the task's object",
        "shared": "none: one object in one process",
    }

    def __init__(self, address: str | None = None, workers: int | None = None, **options: Any):
        super().__init__(address, workers, **options)
        self._tasks: queue.SimpleQueue | None = None
        self._threads: list[threading.Thread] = []

    @classmethod
    def check_address(cls, address: str) -> None:
        raise EngineStartError(f"{cls.name} takes no --address (its threads run here)")

    def _start(self) -> None:
        if self.address:
            self.check_address(self.address)
        self._tasks = queue.SimpleQueue()
        self._threads = [
            threading.Thread(
                target=self._work, args=(self._tasks,), name=f"distlab-threads-{i}", daemon=True
            )
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _work(tasks: queue.SimpleQueue) -> None:
        while (item := tasks.get()) is not _STOP:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                # the traceback text rides on the exception, as on every engine
                result = call_capturing(fn, args, kwargs)
            except BaseException as exc:
                future.set_exception(with_remote_traceback(exc))
            else:
                future.set_result(result)

    def submit_with(self, fn, args=(), kwargs=None, *, resources=None) -> Future:
        if self._tasks is None:
            raise RuntimeError("the threads engine is not started")
        future: Future = Future()
        self._tasks.put((future, fn, tuple(args), dict(kwargs or {})))
        return future

    def close(self) -> None:
        tasks, threads = self._tasks, self._threads
        self._tasks, self._threads = None, []
        if tasks is not None:
            for _ in threads:
                tasks.put(_STOP)
            deadline = time.monotonic() + self.options["close_wait_s"]
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        super().close()

    def worker_threads(self) -> list[threading.Thread]:
        """The pool's threads that are alive (what the tests see end at close)."""
        return [t for t in self._threads if t.is_alive()]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": "in-process", "pool": "threads"}
