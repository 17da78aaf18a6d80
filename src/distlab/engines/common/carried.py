"""A call carried through a task queue as one text argument, and its outcome as one text
result: what the Redis task queues (Dramatiq, RQ, Huey, Taskiq, arq) run on their workers.

Each queue has its own serializer (JSON for Dramatiq, Taskiq and arq's default msgpack or
pickle for RQ and Huey), and none of them sends a lambda, a closure or a class defined in
a notebook's ``__main__``. So the driver cloudpickles ``(fn, args, kwargs)`` and sends it
base64-encoded as the one argument of one registered task (``run_carried``); the worker
sends back the outcome the same way: ``("ok", value)``, or ``("raised", exception)`` with
the worker's traceback text on the exception (distlab.contracts.errors). The queue itself
sees a task that returned: a user's exception is the task's answer, not the queue's
failure, so no queue retries it (Dramatiq would, 20 times, by default) and it arrives as
its own class. What the queue reports as failed is its own loss: a dead work-horse (RQ), a
time limit.

Imported on the workers: the standard library, cloudpickle and distlab.contracts only.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from distlab.contracts.errors import TB_ATTR, call_capturing, with_remote_traceback

OK = "ok"
RAISED = "raised"


def _encode(obj: Any) -> str:
    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def _decode(text: str) -> Any:
    return cloudpickle.loads(base64.b64decode(text))


def carry(fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None) -> str:
    """The driver's side: the text a queue carries as the task's one argument."""
    return _encode((fn, tuple(args), kwargs or {}))


def run_carried(call: str) -> str:
    """The worker's side: run the carried call; its outcome as text (never raises for
    what the user's function raised)."""
    fn, args, kwargs = _decode(call)
    try:
        value = call_capturing(fn, args, kwargs)
    except Exception as exc:
        try:
            return _encode((RAISED, exc))
        except Exception as unpicklable:  # its class cannot travel: say what it was
            text = f"{type(exc).__name__}: {exc} (not picklable: {unpicklable})"
            return _encode((RAISED, with_text(RuntimeError(text), exc)))
    return _encode((OK, value))


def with_text(carrier: BaseException, original: BaseException) -> BaseException:
    """``carrier`` with the remote traceback text ``original`` was tagged with."""
    text = getattr(original, TB_ATTR, None)
    if text:
        setattr(carrier, TB_ATTR, text)
    return carrier


def outcome(text: str) -> Any:
    """The driver's side: the value a task returned, or its exception raised as its own
    class with the worker's traceback as ``__cause__``."""
    kind, value = _decode(text)
    if kind == RAISED:
        raise with_remote_traceback(value)
    return value


def noop(i: int, work_ms: float = 0.0) -> int:
    """The queues' own job (``distlab bench queues``, native_noop_tasks): called through
    each queue's API with plain numbers, no carried payload; ``work_ms`` of busy CPU
    first (the bench's CPU-bound variant, where the GIL decides)."""
    if work_ms > 0:
        end = time.perf_counter() + work_ms / 1000
        while time.perf_counter() < end:
            pass
    return i
