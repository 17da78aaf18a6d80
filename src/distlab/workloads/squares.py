"""W1 squares (seed 002, task 1): ten tasks that sleep and return x*x.

The original: ``calculate_square(x)`` sleeps 0.5 s and returns x*x over range(10), run
sequentially then as remote tasks; both lists must be equal. Sleep-bound, so the ideal
parallel time is ceil(n / workers) * sleep.
"""

from __future__ import annotations

import math
import time

from distlab.contracts import Engine
from distlab.workloads.base import Param, RunOutput, Workload, gather_counting_lost


def calculate_square(x: int, sleep_s: float) -> int:
    time.sleep(sleep_s)
    return x * x


class Squares(Workload):
    name = "squares"
    description = "10 tasks sleeping then returning x*x (seed 002 task 1)"
    sizes = {
        "tiny": {"n": 10, "sleep_s": 0.05},
        # the seed's tasks at a tenth: still 25-50x the slowest engine's per-task overhead
        "default": {"n": 10, "sleep_s": 0.05},
        "seed": {"n": 10, "sleep_s": 0.5},
    }
    params_declared = {"n": Param(int, minimum=1), "sleep_s": Param(float, minimum=0)}
    reference_repeats = 1

    def waits_s(self, workers: int) -> dict[str, float]:
        return {"default": math.ceil(self.params["n"] / workers) * self.params["sleep_s"]}

    def reference(self) -> list[int]:
        return [calculate_square(x, self.params["sleep_s"]) for x in range(self.params["n"])]

    def golden(self) -> list[int]:
        return [x * x for x in range(self.params["n"])]

    def run(self, engine: Engine, variant: str) -> RunOutput:
        n, sleep_s = self.params["n"], self.params["sleep_s"]
        futures = [engine.submit(calculate_square, x, sleep_s) for x in range(n)]
        result, lost = gather_counting_lost(futures)
        workers = engine.workers or 1
        return RunOutput(
            result,
            n_tasks=n,
            lost=lost,
            compute_s=n * sleep_s,
            metrics={"ideal_s": math.ceil(n / workers) * sleep_s},
        )
