"""The one paced sender: do something at intended times, and say how late we were.

Every paced loop in distlab (the stream workload's events, the jobs workload's requests)
runs on :class:`Pacer`. Latency is always measured from the INTENDED time, so a stalled
system is charged for every item it delayed (no coordinated omission); the pacer's own
lag behind schedule is recorded so that a sender that fell behind is never mistaken for
a slow engine.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator

#: sleeps shorter than this are skipped (the OS cannot honour them precisely anyway)
MIN_SLEEP_S = 0.0005
#: an item started later than this behind its time counts as sent late
LATE_S = 0.005


class Pacer:
    """Item ``i`` is due at ``t0 + i * interval_s`` (perf_counter clock)."""

    def __init__(
        self,
        interval_s: float,
        t0: float | None = None,
        idle: Callable[[], None] | None = None,
    ):
        self.interval_s = interval_s
        self.t0 = time.perf_counter() if t0 is None else t0
        #: called before each sleep (e.g. to serve a producer's delivery reports)
        self.idle = idle
        #: the worst lag behind schedule seen so far, in seconds
        self.worst_lag_s = 0.0
        #: items started more than LATE_S behind their time, and items in all
        self.late = 0
        self.items = 0
        #: how far behind its time the latest item started (0 when on time): a sender
        #: that keeps up ends near 0 whatever hiccups it had, one that cannot keep up
        #: ends furthest behind
        self.last_lag_s = 0.0

    @classmethod
    def at_rate(cls, rate: float, **kwargs) -> Pacer:
        return cls(1.0 / rate, **kwargs)

    def intended(self, i: int) -> float:
        return self.t0 + i * self.interval_s

    def wait(self, i: int) -> float:
        """Sleep until item ``i`` is due (return at once when already late); return its
        intended time."""
        due = self.t0 + i * self.interval_s
        now = time.perf_counter()
        self.items += 1
        self.last_lag_s = max(0.0, now - due)
        if now < due:
            if due - now > MIN_SLEEP_S:
                if self.idle is not None:
                    self.idle()
                    now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
        else:
            lag = now - due
            if lag > self.worst_lag_s:
                self.worst_lag_s = lag
            if lag > LATE_S:
                self.late += 1
        return due

    def wait_run(self, i: int, n: int) -> int:
        """Sleep until item ``i`` is due (return at once when already late), never
        earlier; return ``j``, the end of the run of items due by now (``i < j <= n``), so
        that a sender of many small items sends ``i..j-1`` at once instead of waking for
        each. Every item of the run counts as started now in the lag figures."""
        interval, t0 = self.interval_s, self.t0
        due = t0 + i * interval
        now = time.perf_counter()
        if now < due:
            if due - now > MIN_SLEEP_S and self.idle is not None:
                self.idle()
                now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            now = time.perf_counter()
        j = min(n, max(i + 1, int((now - t0) / interval) + 1))
        self.items += j - i
        lag = now - due  # the run's first item is its latest
        if lag > self.worst_lag_s:
            self.worst_lag_s = lag
        if lag > LATE_S:  # items i..late-1 were due more than LATE_S ago
            late_end = min(j, int((now - LATE_S - t0) / interval) + 1)
            self.late += max(0, late_end - i)
        self.last_lag_s = max(0.0, now - (t0 + (j - 1) * interval))
        return j

    @property
    def late_share(self) -> float:
        """The share of items started more than LATE_S behind their time."""
        return self.late / self.items if self.items else 0.0


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage-collector pause while a paced loop's clock runs, as ``timeit`` does.

    A process that sends or stamps arrivals also holds big structures (a stream's
    million events, an engine's objects); a full collection walks all of them and stops
    every thread for 40-300 ms here, which the figures would charge to the engine. What
    exists on entry is frozen (never walked again until exit) and collection is off
    until exit; the few cycles made meanwhile wait for the next collection."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()
