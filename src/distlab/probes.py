"""Small task functions importable on every worker: used by the conformance suite, the
tiny-task benchmark and the fault-injection checks."""

from __future__ import annotations

import os
import time
from typing import Any


def noop(x: Any = None) -> Any:
    return x


def square(x: int) -> int:
    return x * x


def add(x: int, y: int = 0) -> int:
    return x + y


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def array_sum(a: Any) -> float:
    return float(a.sum())


class ProbeError(ValueError):
    """Raised on purpose by fail_with(); its type must reach the caller unchanged."""


def fail_with(message: str) -> None:
    raise ProbeError(message)


def import_missing(data: Any = None, sleep_s: float = 0.0) -> Any:
    """Fails on the worker with ImportError, as a task does whose worker lacks a module
    (the signature of jobs' and squares' tasks, so it can stand in for them)."""
    from distlab import no_such_module_on_this_worker  # noqa: F401

    return data
