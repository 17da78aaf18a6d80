"""What a function costs per item, measured on a sample of its items before any engine
starts: time per item with its spread, the bytes an engine must carry (the pickled
argument and result), the pickling time, whether it releases the GIL, its peak memory.

The sample is also the bad-input check: an item that cannot be pickled, or a call that
raises, is one line (a DistlabError) here, before anything is started.
"""

from __future__ import annotations

import pickle
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from distlab.contracts import DistlabError
from distlab.contracts.errors import error_line

#: the sample's timed calls stop once they have taken this long (at least MIN_SAMPLE calls)
SAMPLE_BUDGET_S = 1.0
#: the fewest items timed, however slow each is (a spread needs two)
MIN_SAMPLE = 2
#: the most items timed
MAX_SAMPLE = 50
#: each thread's share of work in the GIL test: long enough that starting the threads
#: (tens of microseconds) does not decide the ratio
GIL_BLOCK_S = 0.1
#: two threads finishing within this share of the one-thread time release the GIL
#: (1.0: they ran one after the other; 0.5: side by side)
GIL_PARALLEL_RATIO = 0.75


@dataclass(frozen=True)
class Profile:
    """The function's costs per item, from ``sampled`` of the ``n_items`` items."""

    n_items: int
    sampled: int
    #: seconds per call: median, and the spread (min, max) over the sample
    item_s: float
    item_min_s: float
    item_max_s: float
    #: pickled size of an argument and of a result, in bytes (the sample's mean)
    arg_bytes: float
    result_bytes: float
    #: the driver's share of (un)pickling per item: dumping the argument, loading the
    #: result; the workers' share (loading the argument, dumping the result) is the same
    #: work, done in parallel
    pickle_s: float
    #: two threads' time over one thread's for the same calls (None on one core)
    gil_ratio: float | None
    #: peak memory the traced call allocated (tracemalloc), in bytes
    peak_bytes: int

    @property
    def releases_gil(self) -> bool | None:
        return None if self.gil_ratio is None else self.gil_ratio < GIL_PARALLEL_RATIO

    @property
    def loop_s(self) -> float:
        """The plain loop's predicted time: every item at the sample's median."""
        return self.n_items * self.item_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "releases_gil": self.releases_gil}

    def summary(self) -> str:
        gil = {None: "not tested (one core)", True: "releases it", False: "holds it"}
        return (
            f"{self.n_items:,} items; sampled {self.sampled}: {human_s(self.item_s)} per item "
            f"[{human_s(self.item_min_s)}-{human_s(self.item_max_s)}], argument "
            f"{human_bytes(self.arg_bytes)}, result {human_bytes(self.result_bytes)}, "
            f"pickling {human_s(self.pickle_s)}, peak memory {human_bytes(self.peak_bytes)} "
            f"per call; the GIL: {gil[self.releases_gil]}"
            + (f" (two threads took {self.gil_ratio:.2f}x one)" if self.gil_ratio else "")
        )


def sample_indices(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``n`` items (the first and the last included):
    items often grow along the list, and the first few alone would under-price it."""
    if k >= n:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def measure(fn: Callable[[Any], Any], items: Sequence[Any], name: str) -> Profile:
    """Profile ``fn`` on a sample of ``items``; one line (DistlabError) if an item cannot
    be pickled or a call raises."""
    n = len(items)
    if n == 0:
        raise DistlabError(f"{name}: no items")
    order = sample_indices(n, min(n, MAX_SAMPLE))
    # the spread first: the first, the last, then the rest evenly, so a budget that
    # stops after two calls still has both ends
    order = [order[0], order[-1], *order[1:-1]] if len(order) > 1 else order
    times: list[float] = []
    arg_sizes: list[int] = []
    result_sizes: list[int] = []
    pickle_times: list[float] = []
    calls: list[tuple[Any, float]] = []
    spent = 0.0
    for i in order:
        item = items[i]
        arg_blob = _pickled(item, f"{name}: item #{i}")
        t0 = time.perf_counter()
        try:
            result = fn(item)
        except Exception as exc:
            raise DistlabError(f"{name} failed on item #{i}: {error_line(exc)}") from None
        took = time.perf_counter() - t0
        result_blob = _pickled(result, f"{name}: the result of item #{i}")
        t1 = time.perf_counter()
        pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(result_blob)
        pickle_times.append(time.perf_counter() - t1)
        times.append(took)
        arg_sizes.append(len(arg_blob))
        result_sizes.append(len(result_blob))
        calls.append((item, took))
        spent += took
        if len(times) >= MIN_SAMPLE and spent >= SAMPLE_BUDGET_S:
            break
    return Profile(
        n_items=n,
        sampled=len(times),
        item_s=statistics.median(times),
        item_min_s=min(times),
        item_max_s=max(times),
        arg_bytes=statistics.fmean(arg_sizes),
        result_bytes=statistics.fmean(result_sizes),
        pickle_s=statistics.median(pickle_times),
        gil_ratio=_gil_ratio(fn, calls),
        peak_bytes=_peak_memory(fn, calls[0][0]),
    )


def _pickled(obj: Any, what: str) -> bytes:
    # the standard pickler first (what most engines use for data); cloudpickle for what
    # only it can send (a lambda among the items), as the engines fall back to it
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    import cloudpickle

    try:
        return cloudpickle.dumps(obj)
    except Exception as exc:
        raise DistlabError(f"{what} cannot be sent to workers: {error_line(exc)}") from None


def _gil_ratio(fn: Callable[[Any], Any], calls: list[tuple[Any, float]]) -> float | None:
    """Two threads' time over one thread's, each thread calling ``fn`` on a block of
    sampled items of about GIL_BLOCK_S (one item when items are slower than that)."""
    import os

    if (os.cpu_count() or 1) < 2 or not calls:
        return None
    block: list[Any] = []
    took = 0.0
    while took < GIL_BLOCK_S or not block:
        item, t = calls[len(block) % len(calls)]
        block.append(item)
        took += t

    def work() -> None:
        for x in block:
            fn(x)

    # one thread's time is the sample's own: each block's calls were timed one by one
    one_thread = 2 * took
    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two_threads = time.perf_counter() - t0
    return two_threads / one_thread if one_thread > 0 else None


def _peak_memory(fn: Callable[[Any], Any], item: Any) -> int:
    """The peak of what one call allocated (tracemalloc sees NumPy's buffers too)."""
    tracemalloc.start()
    try:
        fn(item)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def human_s(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def human_bytes(b: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"
