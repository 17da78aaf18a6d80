"""Functions `distlab advise` is tried on in tests/test_advise.py (importable by the
engines' workers: the advice puts this directory on their PYTHONPATH)."""

from __future__ import annotations

import os
import threading


def spin(x: int, rounds: int) -> int:
    s = x
    for i in range(rounds):
        s = (s * 31 + i) % 1_000_003
    return s


def small(x: int) -> int:
    """Well under a millisecond."""
    return spin(x, 1_000)


def heavy(x: int) -> int:
    """Milliseconds of CPU holding the GIL: two processes do it in about half the time."""
    return spin(x, 40_000)


def where(x: int) -> int:
    """Milliseconds of work, then a different answer in every process: no engine can
    give the loop's."""
    return os.getpid() + 0 * spin(x, 40_000)


def fails_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError("seven is not allowed")
    return x


def items_that_fail() -> list[int]:
    raise RuntimeError("the database is down")


def items_with_a_lock() -> list[object]:
    return [1, 2, threading.Lock()]


class Locked:
    """A callable holding a lock: it cannot be pickled, so it cannot reach a worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, x: int) -> int:
        return x


locked = Locked()


def numbers() -> list[int]:
    return list(range(20))
