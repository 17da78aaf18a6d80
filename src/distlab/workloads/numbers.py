"""W2 numbers (seed 002, task 2): log(sqrt(abs(x))) over a million random numbers.

The original submits one remote task per element (a known anti-pattern) and checks
nothing. Here the data are seeded, the answer is checked against the sequential loop
(bitwise: every engine runs the same math on the same floats), and two granularities
are measured: ``per_element`` (the seed's way, on a capped prefix, extrapolated per task
and reported as such) and ``batched`` (one task per batch, the batch size chosen from
the engine's measured per-task overhead unless given). Vectorized NumPy on one core is
reported beside it as the physical-limit reference.
"""

from __future__ import annotations

import math
import pickle
import time
from typing import Any

import numpy as np

from distlab import probes
from distlab.contracts import Engine
from distlab.workloads.base import Param, RunOutput, Workload

SEED = 20240607
# Target share of a batch's time spent on per-task overhead when choosing a batch size.
OVERHEAD_SHARE = 0.05
# At least this many batches per worker, so one slow task cannot hold up the run.
MIN_BATCHES_PER_WORKER = 2


def process(x: float) -> float:
    return math.log(math.sqrt(abs(x)))


def process_batch(chunk: np.ndarray) -> tuple[np.ndarray, float]:
    """Process a batch with the seed's per-element function; also return the seconds spent
    computing (for the time breakdown).

    Batches travel as float64 arrays, not Python lists: an array pickles as one buffer
    (and Ray passes it zero-copy), a list as a million objects. The per-element work is
    the seed's, unchanged.
    """
    t0 = time.perf_counter()
    out = np.fromiter((math.log(math.sqrt(abs(x))) for x in chunk.tolist()), float, len(chunk))
    return out, time.perf_counter() - t0


def make_data(n: int) -> list[float]:
    return (np.random.default_rng(SEED).random(n) * 100).tolist()


def measure_task_overhead(engine: Engine, tasks: int | None = None) -> float:
    """Worker-seconds one no-op task costs on this engine, measured."""
    workers = engine.workers or 1
    tasks = tasks or max(40, 10 * workers)
    engine.gather([engine.submit(probes.noop, i) for i in range(workers)])  # warm
    t0 = time.perf_counter()
    engine.gather([engine.submit(probes.noop, i) for i in range(tasks)])
    return (time.perf_counter() - t0) * workers / tasks


def measure_element_cost(data: np.ndarray, sample: int = 20_000) -> float:
    part = data[:sample]
    t0 = time.perf_counter()
    process_batch(part)
    return (time.perf_counter() - t0) / max(1, len(part))


def choose_batch_size(n: int, workers: int, overhead_s: float, element_s: float) -> int:
    """Smallest batch whose per-task overhead is <= OVERHEAD_SHARE of its compute time,
    but never fewer than MIN_BATCHES_PER_WORKER batches per worker."""
    wanted = math.ceil(overhead_s / (OVERHEAD_SHARE * max(element_s, 1e-12)))
    most = max(1, math.ceil(n / (MIN_BATCHES_PER_WORKER * max(1, workers))))
    return max(1, min(wanted, most))


class Numbers(Workload):
    name = "numbers"
    description = "log(sqrt(abs(x))) over seeded random numbers (seed 002 task 2)"
    sizes = {
        "tiny": {
            "n": 20_000,
            "per_element_cap": 500,
            "per_element_budget_s": 0.5,
            "batch_size": None,
        },
        "default": {
            "n": 1_000_000,
            "per_element_cap": 5_000,
            "per_element_budget_s": 0.5,
            "batch_size": None,
        },
        "seed": {
            "n": 1_000_000,
            "per_element_cap": 20_000,
            "per_element_budget_s": 10.0,
            "batch_size": None,
        },
    }
    params_declared = {
        "n": Param(int, minimum=1),
        "per_element_cap": Param(int, minimum=1),
        "per_element_budget_s": Param(float, above=0),
        "batch_size": Param(int, minimum=1, optional=True),
    }

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        self.data = make_data(self.params["n"])
        self.array = np.asarray(self.data)
        #: measured per-task overhead per engine object (measured once per engine)
        self._task_overhead_s: dict[int, float] = {}
        #: serialisation round trip of a run's data, per number of batches
        self._transfer_s: dict[int, float] = {}
        #: per-element compute cost in the driver (measured once)
        self._element_s: float | None = None

    def task_overhead(self, engine: Engine) -> float:
        if id(engine) not in self._task_overhead_s:
            self._task_overhead_s[id(engine)] = measure_task_overhead(engine)
        return self._task_overhead_s[id(engine)]

    def variants(self, engine: Engine) -> list[str]:
        return ["batched", "per_element"]

    def references(self) -> dict[str, Any]:
        return {
            "sequential": self.reference,  # the seed's loop over the Python list
            "numpy": lambda: np.log(np.sqrt(np.abs(self.array))),  # vectorized, one core
        }

    def reference(self) -> np.ndarray:
        return np.asarray([process(x) for x in self.data])

    def run(self, engine: Engine, variant: str) -> RunOutput:
        if variant == "per_element":
            return self._run_per_element(engine)
        return self.run_batched(engine, self.params.get("batch_size"))

    def _run_per_element(self, engine: Engine) -> RunOutput:
        # As many elements as finish in about the time budget on this engine (never more
        # than the cap): the seed's way is shown at a size that ends, and extrapolated.
        workers = engine.workers or 1
        affordable = self.params["per_element_budget_s"] * workers / self.task_overhead(engine)
        cap = min(self.params["per_element_cap"], len(self.data), max(50, int(affordable)))
        # Two prefixes, so the extrapolation separates a fixed cost (submitting, the first
        # task's start) from the cost per element: time = fixed + per_element * n.
        small = max(1, cap // 4)
        t0 = time.perf_counter()
        small_values = engine.map(process, self.data[:small])
        small_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        # one task per element, submitted the engine's own way for many tasks
        values = engine.map(process, self.data[:cap])
        wall = time.perf_counter() - t0
        per_element = (wall - small_wall) / (cap - small) if cap > small else wall / cap
        per_element = max(per_element, 0.0)
        fixed = max(0.0, wall - per_element * cap)
        return RunOutput(
            np.asarray(values),
            n_tasks=cap,
            work_fraction=cap / len(self.data),
            wall_s=wall,  # the full prefix's run (the smaller one only fits the line)
            metrics={
                "elements": cap,
                "capped": cap < len(self.data),
                "per_task_s": per_element,
                "fixed_s": fixed,
                "fit_prefixes": [small, cap],
                # the seed's way at full size: fixed cost + per-element cost x all elements
                "extrapolated_full_s": fixed + per_element * len(self.data),
                "small_prefix_ok": bool(
                    np.asarray(small_values).tobytes() == self.golden()[:small].tobytes()
                ),
            },
        )

    def run_batched(self, engine: Engine, batch_size: int | None) -> RunOutput:
        workers = engine.workers or 1
        chosen = "given"
        overhead = element = None
        if not batch_size:
            overhead = self.task_overhead(engine)
            if self._element_s is None:
                self._element_s = measure_element_cost(self.array)
            element = self._element_s
            batch_size = choose_batch_size(len(self.data), workers, overhead, element)
            chosen = "auto"
        chunks = [self.array[i : i + batch_size] for i in range(0, len(self.array), batch_size)]
        t0 = time.perf_counter()
        parts = engine.gather([engine.submit(process_batch, c) for c in chunks])
        values = np.concatenate([out for out, _ in parts])
        wall = time.perf_counter() - t0  # the work ends here: the rest is bookkeeping
        compute = sum(s for _, s in parts)
        transfer = self._transfer_cost(chunks, [out for out, _ in parts])
        return RunOutput(
            values,
            n_tasks=len(chunks),
            wall_s=wall,
            metrics={
                "batch_size": batch_size,
                "batch_size_chosen": chosen,
                "measured_task_overhead_ms": None if overhead is None else overhead * 1e3,
                "measured_element_us": None if element is None else element * 1e6,
                "breakdown_s": {
                    "compute": compute / workers,
                    "serialization": transfer,
                    "scheduling_and_other": max(0.0, wall - compute / workers - transfer),
                },
            },
        )

    def _transfer_cost(self, chunks: list[np.ndarray], results: list[np.ndarray]) -> float:
        """One serialisation round trip of a run's inputs and outputs, timed in the driver
        outside the run's timed region (once per batch size: it depends on nothing else)."""
        key = len(chunks)
        if key not in self._transfer_s:
            t1 = time.perf_counter()
            pickle.loads(pickle.dumps(chunks, protocol=5))
            pickle.loads(pickle.dumps(results, protocol=5))
            self._transfer_s[key] = time.perf_counter() - t1
        return self._transfer_s[key]

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        got = np.asarray(output.result, dtype=float)
        # a capped per-element run must bring back every element it set out to compute
        wanted = output.metrics.get("elements", len(self.data))
        if variant != "per_element":
            wanted = len(self.data)
        if len(got) != wanted:
            return False, f"{len(got)} values, expected {wanted}"
        want = self.golden()[:wanted]
        if output.metrics.get("small_prefix_ok") is False:
            return False, "the smaller prefix (used for the extrapolation) differs"
        if got.tobytes() == want.tobytes():
            return True, f"{len(got)} values bitwise equal; sum {got.sum():.6f}"
        if np.allclose(got, want, rtol=1e-12, atol=0):
            return True, f"{len(got)} values equal within rtol 1e-12 (not bitwise)"
        bad = int(np.sum(~np.isclose(got, want, rtol=1e-12, atol=0)))
        return False, f"{bad} of {len(got)} values differ"
