"""How a Python call travels as a Spark task: run on an executor's Python worker with its
exception carried back as a value (not wrapped in a Py4JJavaError), broadcasts unwrapped,
and a job that lost its task's process told apart from a task that raised."""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable
from typing import Any

from pyspark import cloudpickle as spark_cloudpickle
from pyspark.broadcast import Broadcast

from distlab.contracts import DistlabError, TaskLost
from distlab.contracts.errors import call_capturing, with_remote_traceback


class Failed:
    """A task's exception carried back as a value, so Spark does not wrap it in a
    Py4JJavaError; the driver re-raises it with its remote traceback.

    An exception plain pickle cannot send (its class came by value: defined in the
    caller's ``__main__``) travels as bytes of pyspark's own cloudpickle, the copy that
    sent the task's function: it tracks such classes by id, so the driver gets its own
    class back and ``except MyError`` matches."""

    def __init__(self, exc: BaseException):
        self.exc: BaseException | None = exc
        self.blob: bytes | None = None
        try:
            pickle.dumps(exc)
            return
        except Exception:
            pass
        try:
            self.blob, self.exc = spark_cloudpickle.dumps(exc), None
        except Exception:  # not even cloudpickle can: keep its type name and text
            self.exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            self.exc._distlab_remote_tb = getattr(exc, "_distlab_remote_tb", None)

    def exception(self) -> BaseException:
        return self.exc if self.blob is None else spark_cloudpickle.loads(self.blob)


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Broadcast) else value


def run_task(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Runs on an executor's Python worker."""
    try:
        args = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return call_capturing(fn, args, kwargs)
    except BaseException as exc:
        return Failed(exc)


def raise_if_failed(value: Any) -> Any:
    if isinstance(value, Failed):
        raise with_remote_traceback(value.exception())
    return value


def job_error(exc: BaseException) -> DistlabError:
    """One line from a failed Spark job: the Python error if there is one."""
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    python_lines = [ln for ln in lines if "Error" in ln or "Exception" in ln]
    return DistlabError(f"spark job failed: {(python_lines or lines or ['?'])[-1].strip()}")


#: what a Spark job's failure says when it lost a task's process (a Python worker or an
#: executor died on every attempt), as opposed to a task that raised
_LOSS_SIGNS = ("Python worker exited unexpectedly", "ExecutorLostFailure")


def collect(rdd: Any, health: Callable[[], str | None] = lambda: None) -> list[Any]:
    """``rdd.collect()``; a job that failed because its task's process died on every
    attempt raises TaskLost (a task's own exception comes back as a Failed value); one
    that failed because the engine itself broke (``health()``: the JVM ran out of heap)
    raises DistlabError saying so, not Py4J's wrapper."""
    try:
        return rdd.collect()
    except Exception as exc:
        try:
            text = str(exc)  # a Py4JJavaError asks the JVM for its text: it may be gone
        except Exception:
            text = ""
        sign = next((s for s in _LOSS_SIGNS if s in text), None)
        if sign is not None:
            raise TaskLost(f"Spark lost the task ({sign})") from exc
        broken = health()
        if broken:
            raise DistlabError(f"spark: {broken}") from exc
        raise


#: fatal JVM errors worth naming when a job fails
_FATAL = re.compile(r"java\.lang\.(OutOfMemoryError|StackOverflowError|InternalError)[^\n]*")


def jvm_fatal(log_path: str | None) -> str | None:
    """The last fatal error in the JVM's log (e.g. 'java.lang.OutOfMemoryError: Java
    heap space'), if any."""
    if not log_path:
        return None
    try:
        with open(log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200_000))
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    matches = [m.group(0).strip() for m in _FATAL.finditer(text)]
    return matches[-1] if matches else None


def warm() -> int:
    return os.getpid()
