"""W6 jobs (seed 000, "Ray vs Celery vs Kafka"): background jobs and request/response.

The original: ``process_task(data)`` sleeps 2 s and returns "Processed {data}" for tasks
Task-0..9 submitted at once ("All tasks completed:"). Its later version runs a client
loop: one job every 5 s, blocking on the result, where the round trip is what matters.

Variants:
  ``batch``             the ten jobs at once; wall time against ceil(10 / workers) * d.
  ``request_response``  one job at a time, each sent at its intended time (interval
                        apart); round-trip latency percentiles measured from the intended
                        send time, so a slow reply delays no later measurement
                        (no coordinated omission), and the engine's own share
                        (round trip minus the job's sleep). A few unmeasured requests
                        first (``warmup_requests``, 3); the loop runs once per cell.
"""

from __future__ import annotations

import math
import time

from distlab.contracts import Engine, TaskLost
from distlab.contracts.pacing import Pacer
from distlab.stats import percentiles
from distlab.workloads.base import Param, RunOutput, Workload, gather_counting_lost


def process_task(data: str, sleep_s: float) -> str:
    time.sleep(sleep_s)
    return f"Processed {data}"


class Jobs(Workload):
    name = "jobs"
    description = "ten sleeping background jobs, then a request/response loop (seed 000)"
    sizes = {
        "tiny": {"n": 10, "sleep_s": 0.05, "requests": 20, "interval_s": 0.06},
        # the seed's 2 s job every 5 s at a fiftieth (the same 2.5 ratio): 32 round trips
        # in 3.2 s (the p99 is then about the slowest one). Not closer together: the 60 ms
        # left per request must cover the slowest engine's round trip beyond the job
        # (Spark's, 20-60 ms here), or every request waits for the one before (at 62.5 ms
        # apart Spark's backlog grew to 1.3 s)
        "default": {"n": 10, "sleep_s": 0.04, "requests": 32, "interval_s": 0.1},
        "seed": {"n": 10, "sleep_s": 2.0, "requests": 20, "interval_s": 5.0},
    }
    params_declared = {
        "n": Param(int, minimum=1),
        "sleep_s": Param(float, minimum=0),
        "requests": Param(int, minimum=1),
        "interval_s": Param(float, minimum=0),
        "warmup_requests": Param(int, minimum=0),
    }
    reference_repeats = 1
    #: what each job runs on a worker: the seed's process_task
    task = staticmethod(process_task)

    def variants(self, engine: Engine) -> list[str]:
        return ["batch", "request_response"]

    def repetitions(self, variant: str, warmup: int, repeats: int) -> tuple[int, int]:
        # the loop is its own repetitions (its figure is a percentile of its round trips)
        # and warms up with its first requests: one run of it is the measurement
        return (0, 1) if variant == "request_response" else (warmup, repeats)

    def waits_s(self, workers: int) -> dict[str, float]:
        p = self.params
        return {
            "batch": math.ceil(p["n"] / workers) * p["sleep_s"],
            "request_response": p["requests"] * max(p["interval_s"], p["sleep_s"]),
        }

    def reference(self) -> list[str]:
        return [process_task(f"Task-{i}", self.params["sleep_s"]) for i in range(self.params["n"])]

    def golden(self) -> list[str]:
        return [f"Processed Task-{i}" for i in range(self.params["n"])]

    def run(self, engine: Engine, variant: str) -> RunOutput:
        if variant == "request_response":
            return self._request_response(engine)
        n, d = self.params["n"], self.params["sleep_s"]
        futures = [engine.submit(self.task, f"Task-{i}", d) for i in range(n)]
        results, lost = gather_counting_lost(futures)
        workers = engine.workers or 1
        return RunOutput(
            results,
            n_tasks=n,
            lost=lost,
            compute_s=n * d,
            metrics={"ideal_s": math.ceil(n / workers) * d},
        )

    def _request_response(self, engine: Engine) -> RunOutput:
        k, d, interval = self.params["requests"], self.params["sleep_s"], self.params["interval_s"]
        for i in range(int(self.params.get("warmup_requests", 3))):  # not measured
            engine.submit(self.task, f"Task-{i % self.params['n']}", d).result()
        pacer = Pacer(interval)
        round_trips, results, lost = [], [], 0
        for i in range(k):
            intended = pacer.wait(i)
            try:
                results.append(engine.submit(self.task, f"Task-{i % self.params['n']}", d).result())
            except TaskLost:  # the engine lost it; any other error fails the cell
                results.append(None)
                lost += 1
            # measured from the intended send time: a late send counts against the engine
            round_trips.append(time.perf_counter() - intended)
        lat_ms = [rt * 1e3 for rt in round_trips]
        return RunOutput(
            results,
            n_tasks=k,
            lost=lost,
            metrics={
                "latency_ms": percentiles(lat_ms, (50, 90, 99)),
                "latency_samples_ms": lat_ms,
                "engine_share_ms": percentiles([x - d * 1e3 for x in lat_ms], (50, 99)),
                "job_ms": d * 1e3,
                "interval_s": interval,
            },
            compute_s=k * d,
            wall_s=time.perf_counter() - pacer.t0,  # the loop, its warm-up left out
            work_fraction=None,
        )

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        got = output.result
        wanted = self.params["requests"] if variant == "request_response" else self.params["n"]
        if len(got) != wanted:
            return False, f"{len(got)} results, expected {wanted}"
        want = [f"Processed Task-{i % self.params['n']}" for i in range(len(got))]
        if got == want:
            return True, f"all {len(got)} results correct"
        bad = sum(1 for a, b in zip(got, want, strict=True) if a != b)
        return False, f"{bad} of {len(got)} results missing or wrong"
