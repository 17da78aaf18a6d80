"""W3 gpu_queue (seed 002, task 3): tasks that each need one GPU, queued on R units.

The original declares 4 tasks of 3 s needing 1 GPU each; on a machine without a GPU it
never schedules them and hangs. Here the engine declares R logical GPUs (``--gpus R``),
so the queue runs anywhere: N tasks of d seconds take about ceil(N / R) * d, and every
task reports the unit it was given. The run is checked for what resource scheduling
promises: tasks running at the same time never hold the same unit, never more than R
run at once, and all R are used. The ``impossible`` variant asks for more units than
exist and must be refused within seconds (UnsatisfiableResources), never hang.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import time
from itertools import combinations
from typing import Any

from distlab.contracts import (
    DistlabError,
    Engine,
    UnsatisfiableResources,
    error_line,
    first_line,
)
from distlab.contracts.tasks import RESOURCE_UNITS_ENV, granted_units
from distlab.workloads.base import Param, RunOutput, Workload

#: an impossible request must be refused within this many seconds
FAIL_FAST_S = 10.0
#: intervals overlapping by less than this are scheduling jitter, not concurrency
OVERLAP_EPSILON_S = 0.02


def gpu_task(index: int, seconds: float, resource: str = "GPU") -> dict[str, Any]:
    """The seed's task: hold the unit for ``seconds``; report which unit and when."""
    units = granted_units(resource)
    start = time.time()
    time.sleep(seconds)
    return {
        "message": f"Task {index} complete",
        "units": units,
        # every engine publishes the grant the same way (distlab.contracts.tasks)
        "unit_source": RESOURCE_UNITS_ENV,
        "start": start,
        "end": time.time(),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def real_gpus_present() -> bool:
    return shutil.which("nvidia-smi") is not None


def default_gpu_count() -> int:
    """GPUs to declare when the user did not say: the real ones if there are any
    (nvidia-smi -L), else 2 logical GPUs so the workload runs on any machine."""
    if real_gpus_present():
        try:
            listing = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10
            ).stdout
            found = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
            if found:
                return found
        except (OSError, subprocess.SubprocessError):
            pass
    return 2


class GpuQueue(Workload):
    name = "gpu_queue"
    description = "tasks needing one GPU each, queued on R logical GPUs (seed 002 task 3)"
    needs = ("supports_resources",)
    sizes = {
        "tiny": {"n": 4, "seconds": 0.3, "per_task": 1, "resource": "GPU"},
        "default": {"n": 4, "seconds": 0.3, "per_task": 1, "resource": "GPU"},
        "seed": {"n": 4, "seconds": 3.0, "per_task": 1, "resource": "GPU"},
    }
    params_declared = {
        "n": Param(int, minimum=1),
        "seconds": Param(float, minimum=0),
        "per_task": Param(int, minimum=1),
        "resource": Param(str),
    }
    reference_repeats = 1

    def variants(self, engine: Engine) -> list[str]:
        return ["queue", "impossible"]

    def waits_s(self, workers: int) -> dict[str, float]:
        # R units (2 by default) and each task holds per_task of them
        slots = max(1, 2 // self.params["per_task"])
        return {"queue": math.ceil(self.params["n"] / slots) * self.params["seconds"]}

    def reference(self) -> list[str]:
        # one process, one device: the tasks one after another
        out = []
        for i in range(self.params["n"]):
            time.sleep(self.params["seconds"])
            out.append(f"Task {i} complete")
        return out

    def golden(self) -> list[str]:
        return [f"Task {i} complete" for i in range(self.params["n"])]

    def units_available(self, engine: Engine) -> int:
        resource = self.params["resource"]
        total = int(engine.resource_totals().get(resource, 0))
        if total < self.params["per_task"]:
            raise DistlabError(
                f"gpu_queue needs {resource} units on the engine: {engine.name} declares "
                f"{resource}={total} (start it with --gpus N, e.g. --gpus 2)"
            )
        return total

    def run(self, engine: Engine, variant: str) -> RunOutput:
        if variant == "impossible":
            return self._run_impossible(engine)
        n, seconds = self.params["n"], self.params["seconds"]
        resource, per_task = self.params["resource"], self.params["per_task"]
        total = self.units_available(engine)
        concurrent = total // per_task
        ideal = math.ceil(n / concurrent) * seconds
        t0 = time.perf_counter()
        futures = [
            engine.submit_with(gpu_task, (i, seconds, resource), resources={resource: per_task})
            for i in range(n)
        ]
        tasks = engine.gather(futures)
        wall = time.perf_counter() - t0
        return RunOutput(
            [t["message"] for t in tasks],
            n_tasks=n,
            compute_s=n * seconds,
            metrics={
                "units": total,
                "units_per_task": per_task,
                "task_s": seconds,
                "measured_s": wall,
                "ideal_s": ideal,
                "measured_over_ideal": wall / ideal,
                "peak_concurrency": peak_concurrency(tasks),
                "unit_source": sorted({t["unit_source"] for t in tasks}),
                "real_gpus": real_gpus_present(),
                "tasks": tasks,
            },
        )

    def _run_impossible(self, engine: Engine) -> RunOutput:
        resource = self.params["resource"]
        wanted = self.units_available(engine) + 1
        t0 = time.perf_counter()
        outcome: dict[str, Any] = {"asked": wanted}
        try:
            future = engine.submit_with(gpu_task, (0, 0.0, resource), resources={resource: wanted})
            future.result(timeout=FAIL_FAST_S)
            outcome["raised"] = None
        except UnsatisfiableResources as exc:
            outcome.update(raised="UnsatisfiableResources", message=first_line(exc))
        except TimeoutError:
            outcome["raised"] = f"nothing: still waiting after {FAIL_FAST_S:g} s (a hang)"
        except Exception as exc:
            outcome["raised"] = (
                error_line(exc)
            )
        outcome["seconds"] = time.perf_counter() - t0
        # nothing of the queue's work runs here: no speed-up against the reference
        metrics = {"refused_in_s": outcome["seconds"]}
        return RunOutput(outcome, n_tasks=1, metrics=metrics, work_fraction=None, compute_s=0.0)

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        if isinstance(output.result, dict):  # the impossible variant
            out = output.result
            ok = out.get("raised") == "UnsatisfiableResources" and out["seconds"] < FAIL_FAST_S
            detail = f"asked {out['asked']} units: {out.get('raised')} after {out['seconds']:.3f} s"
            return ok, detail
        if output.result != self.golden():
            return False, f"messages differ: {output.result}"
        metrics = output.metrics
        if "tasks" not in metrics:  # the sequential reference: messages only
            return True, "every task complete"
        return _verdict(metrics)


def peak_concurrency(tasks: list[dict[str, Any]]) -> int:
    """Most tasks running at one instant (ignoring overlaps shorter than the jitter)."""
    edges = sorted(
        [(t["start"] + OVERLAP_EPSILON_S / 2, 1) for t in tasks]
        + [(t["end"] - OVERLAP_EPSILON_S / 2, -1) for t in tasks],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def check_schedule(tasks: list[dict[str, Any]], concurrent: int) -> dict[str, Any]:
    """Problems with the schedule: shared units among overlapping tasks, over-use."""
    problems = []
    if any(not t["units"] for t in tasks):
        problems.append("a task could not tell which unit it was given")
    for a, b in combinations(tasks, 2):
        overlap = min(a["end"], b["end"]) - max(a["start"], b["start"])
        if overlap > OVERLAP_EPSILON_S and set(a["units"]) & set(b["units"]):
            problems.append(
                f"{a['message']!r} and {b['message']!r} overlapped on unit {a['units']}"
            )
    peak = peak_concurrency(tasks)
    if peak > concurrent:
        problems.append(f"{peak} tasks ran at once on {concurrent} units")
    if peak < min(concurrent, len(tasks)):
        problems.append(f"only {peak} of {min(concurrent, len(tasks))} units used at once")
    return {"problems": problems, "peak": peak}


def _verdict(metrics: dict[str, Any]) -> tuple[bool, str]:
    schedule = check_schedule(metrics["tasks"], metrics["units"] // metrics["units_per_task"])
    measured, ideal = metrics["measured_s"], metrics["ideal_s"]
    problems = list(schedule["problems"])
    # Faster than ceil(N/R)*d is impossible unless the limit was ignored.
    if measured < ideal * 0.95:
        problems.append(f"{measured:.2f} s is faster than the {ideal:.2f} s the units allow")
    if problems:
        return False, "; ".join(problems)
    units = sorted({u for t in metrics["tasks"] for u in t["units"]})
    return True, (
        f"{len(metrics['tasks'])} tasks complete on units {units}, at most {schedule['peak']} "
        f"at once; {measured:.2f} s measured vs {ideal:.2f} s ideal"
    )
