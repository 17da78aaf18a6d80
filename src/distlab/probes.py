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
    import no_such_module_on_this_worker  # noqa: F401

    return data


def spin(iterations: int, tag: int = 0) -> tuple[int, int]:
    """CPU work, not sleep: ``iterations`` rounds of integer arithmetic. Returns the
    arithmetic's result (the same for equal ``iterations``) with ``tag``, so that every
    task of a batch has its own answer and the batch is checked without redoing the work."""
    acc = 0
    for i in range(iterations):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc, tag


def timed_spin(iterations: int, tag: int = 0) -> tuple[int, int, float]:
    """:func:`spin`, with the CPU time (ms) its thread spent on it where it ran: the task's
    own cost on the worker, which the worker's waits for a core do not inflate."""
    t0 = time.thread_time_ns()
    acc, tag = spin(iterations, tag)
    return acc, tag, (time.thread_time_ns() - t0) / 1e6


def payload(nbytes: int, seed: int = 0) -> Any:
    """A NumPy array of ``nbytes`` bytes whose content depends on ``seed`` (cheap to make,
    at the speed of a memory copy: a repeated ramp, not random numbers)."""
    import numpy as np

    ramp = ((np.arange(251, dtype=np.uint16) * 7 + seed) % 256).astype(np.uint8)
    return np.resize(ramp, nbytes)


def payload_frame(nbytes: int, seed: int = 0) -> Any:
    """A pandas DataFrame of about ``nbytes`` bytes: an int64 and a float64 column."""
    import numpy as np
    import pandas as pd

    rows = max(1, nbytes // 16)
    ints = np.arange(rows, dtype=np.int64) + seed
    return pd.DataFrame({"id": ints, "value": ints * 0.5})


def checksum(data: Any) -> tuple[int, int]:
    """(crc32, bytes) of a NumPy array's or a DataFrame's values: the same on every side
    of a transfer exactly when the data arrived intact."""
    import zlib

    import numpy as np

    columns = [data[c].to_numpy() for c in data.columns] if hasattr(data, "columns") else [data]
    crc, size = 0, 0
    for col in columns:
        raw = np.ascontiguousarray(col)
        crc = zlib.crc32(memoryview(raw).cast("B"), crc)
        size += raw.nbytes
    return crc, size
