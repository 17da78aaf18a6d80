"""W5 microscopy (seed 003): a microscope workflow with actors, retries, a cache, monitoring.

The original mocks a microscope with three stateful actors (CameraMotor, Stacking,
Prediction): find the z-positions (one move + one image -> [0, 1, 2]); capture a batch
of images per stripe (10 x (move 2 s + image 2 s)) on the camera; stack each batch as
soon as it is captured (a 30 s all-CPU stress) while the camera goes on; one prediction
(10 s) after every stack. It busy-polls and takes ~164 s; its README promises retries,
result caching and monitoring that its code does not have.

Here the same DAG runs with a time scale (``time_scale`` 1.0 = the original durations)
and does real work: images are generated deterministically (seeded by sample, stripe,
batch, image and z), stacking computes the mean image (burning one core for its scaled
duration), and the prediction locates the brightest spot of every stack and scores it
against a seeded model kernel, so the answer is checkable against a one-process golden.

* Actors on engines that have them; elsewhere the camera's state travels through the
  tasks (each capture returns the camera's new state for the next one).
* Retries: a step that fails is re-run up to ``max_retries`` times. Transient failures
  are injected, reproducibly, with ``failure_rate`` and ``failure_seed`` (or exactly,
  with ``failures={"capture-s0-b0": 2}``); the failure is raised on the worker.
* Cache: each step's result is stored on disk under a hash of the step's inputs and the
  parameters that shape its result (``cache_dir``, default a temporary directory per
  workload instance). Variant ``cold`` clears it before each run, ``cached`` reuses it.
* Monitoring: every state change calls ``self.monitor(step=, state=, seconds=, t=)``
  (running, retry, done, cached, failed), and ``metrics["timeline"]`` keeps the events.

This module is the workload: its parameters, the order it runs the steps in (the DAG),
the golden answer and the figures. The steps as they run on workers, and the actors, are
in ``distlab.workloads.microscopy_steps``; retries, the cache and the run log are
generic, in ``distlab.workloads.workflow``.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from distlab.contracts import Engine
from distlab.workloads.base import Param, RunOutput, Workload
from distlab.workloads.microscopy_steps import (
    ActorSteps,
    TaskSteps,
    capture_batch,
    find_z_positions,
    generate_image,
    mean_image,
    model_kernel,
    new_camera_state,
    predict,
    predict_from,
    stack_batch,
    summarize_stack,
)
from distlab.workloads.workflow import (
    FailurePlan,
    RunLog,
    StepCache,
    StepFailed,
    TransientStepError,
    Workflow,
)

# re-exported: callers catch these as microscopy's errors
__all__ = ["Microscopy", "StepFailed", "TransientStepError"]

#: parameters that shape results (and so enter cache keys); durations do not
RESULT_PARAMS = ("sample_seed", "model_seed", "image_shape", "images_per_batch")


class Microscopy(Workload):
    name = "microscopy"
    description = "microscope workflow: actors, overlapped stacking, retries, cache (seed 003)"
    # original durations and counts; time_scale multiplies every duration
    _base = {
        "move_s": 2.0,
        "image_s": 2.0,
        "stack_s": 30.0,
        "predict_s": 10.0,
        "images_per_batch": 10,
        "stripes": 3,
        "batches_per_stripe": 1,
        "z_count": 3,
        "image_shape": [64, 64],
        "sample_seed": 7,
        "model_seed": 11,
        "failure_rate": 0.0,
        "failure_seed": 0,
        "failures": {},
        "max_retries": 3,
        "cache_dir": None,
        "mode": "auto",
    }
    sizes = {
        # tiny is not shorter than default: the fault tests aim at a run of its length
        "tiny": {**_base, "time_scale": 0.01},
        # the seed's steps at 1/200 (a 10 ms image): a critical path of 0.82 s
        "default": {**_base, "time_scale": 0.005},
        "seed": {**_base, "time_scale": 1.0},
    }
    params_declared = {
        **{k: Param(float, minimum=0) for k in ("move_s", "image_s", "stack_s", "predict_s")},
        **{
            k: Param(int, minimum=1)
            for k in ("images_per_batch", "stripes", "batches_per_stripe", "z_count")
        },
        "image_shape": Param(list, item=int, minimum=1, length=2),
        "sample_seed": Param(int),
        "model_seed": Param(int),
        "failure_rate": Param(float, minimum=0, maximum=1),
        "failure_seed": Param(int),
        # step name -> how many times it fails before it succeeds
        "failures": Param(dict),
        "max_retries": Param(int, minimum=0),
        "cache_dir": Param(str, optional=True),
        "mode": Param(str, choices=("auto", "actors", "tasks")),
        "time_scale": Param(float, above=0),
    }
    reference_repeats = 1

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        if self.params["cache_dir"]:
            directory = Path(self.params["cache_dir"])
        else:
            directory = Path(tempfile.mkdtemp(prefix="distlab-microscopy-"))
            weakref.finalize(self, shutil.rmtree, directory, True)
        self.cache = StepCache(directory)

    # -- parameters ------------------------------------------------------------------------------
    def step_params(self) -> dict[str, Any]:
        """What the workers need: durations scaled, plus the result-shaping parameters."""
        p, scale = self.params, float(self.params["time_scale"])
        return {
            "move_s": p["move_s"] * scale,
            "image_s": p["image_s"] * scale,
            "stack_s": p["stack_s"] * scale,
            "predict_s": p["predict_s"] * scale,
            "z_count": p["z_count"],
            **{k: p[k] for k in RESULT_PARAMS},
        }

    def batches(self) -> list[tuple[int, int]]:
        return [
            (s, b)
            for s in range(self.params["stripes"])
            for b in range(self.params["batches_per_stripe"])
        ]

    def nominal_critical_path_s(self) -> float:
        p = self.step_params()
        capture = p["images_per_batch"] * (p["move_s"] + p["image_s"])
        return (
            (p["move_s"] + p["image_s"])
            + len(self.batches()) * capture
            + p["stack_s"]
            + p["predict_s"]
        )

    def waits_s(self, workers: int) -> dict[str, float]:
        return {"cold": self.nominal_critical_path_s()}  # the cached re-run waits on nothing

    # -- runner interface ----------------------------------------------------------------------------
    def variants(self, engine: Engine) -> list[str]:
        return ["cold", "cached"]

    def reference(self) -> dict[str, Any]:
        """The workflow in one process, one step after another (with the scaled durations)."""
        p = self.step_params()
        camera, z, _ = find_z_positions(new_camera_state(), p)
        stacks = []
        for stripe, batch in self.batches():
            camera, images, _ = capture_batch(camera, stripe, batch, z, p)
            stacks.append(stack_batch(images, stripe, batch, p)[0])
        return self._result(z, stacks, predict(stacks, p)[0])

    def golden(self) -> dict[str, Any]:
        """The same answer computed directly (no sleeps, no CPU burn)."""
        if self._golden is None:
            p = self.step_params()
            z = list(range(p["z_count"]))
            stacks = []
            for stripe, batch in self.batches():
                frames = [
                    generate_image(p, stripe, batch, i, z[i % len(z)])
                    for i in range(p["images_per_batch"])
                ]
                stacks.append(
                    {"stripe": stripe, "batch": batch, "mean": mean_image(np.stack(frames))}
                )
            self._golden = self._result(z, stacks, predict_from(stacks, model_kernel(p)))
        return self._golden

    @staticmethod
    def _result(z: list, stacks: list[dict], prediction: dict) -> dict[str, Any]:
        return {
            "z_positions": list(z),
            "stacks": [summarize_stack(s) for s in stacks],
            "prediction": prediction,
        }

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        want = self.golden()
        if output.result == want:
            pred = want["prediction"]
            return True, (
                f"z {want['z_positions']}, {len(want['stacks'])} stacks, spots {pred['spots']}, "
                f"best stack {pred['best_stack']}: equal to the one-process answer"
            )
        return False, f"result {output.result} differs from {want}"

    # -- the workflow ------------------------------------------------------------------------------
    def run(self, engine: Engine, variant: str) -> RunOutput:
        if variant == "cold":
            self.cache.clear()
        use_actors = self.params["mode"] == "actors" or (
            self.params["mode"] == "auto" and engine.supports_actors
        )
        steps = (ActorSteps if use_actors else TaskSteps)(engine, self.step_params())
        log = RunLog(self.monitor)
        workflow = Workflow(
            self.cache,
            log,
            max_retries=int(self.params["max_retries"]),
            failures=FailurePlan(
                planned=self.params.get("failures") or {},
                rate=float(self.params["failure_rate"]),
                seed=int(self.params["failure_seed"]),
            ),
        )
        p = self.step_params()
        shaping = {k: p[k] for k in RESULT_PARAMS}

        z_key = StepCache.key("z-positions", z_count=p["z_count"])
        z = workflow.step("z-positions", z_key, steps.z_positions)

        stack_keys, stack_futures = [], []
        with ThreadPoolExecutor(max_workers=max(1, len(self.batches()))) as stackers:
            for stripe, batch in self.batches():
                # the camera is one device: batches are captured one after another
                capture_key = StepCache.key("capture", stripe=stripe, batch=batch, z=z, **shaping)
                images = workflow.step(
                    f"capture-s{stripe}-b{batch}",
                    capture_key,
                    lambda fail, s=stripe, b=batch: steps.capture(s, b, z, fail),
                )
                # stack this batch now, while the camera takes the next one
                stack_key = StepCache.key("stack", capture=capture_key)
                stack_keys.append(stack_key)
                stack_futures.append(
                    stackers.submit(
                        workflow.step,
                        f"stack-s{stripe}-b{batch}",
                        stack_key,
                        lambda fail, im=images, s=stripe, b=batch: steps.stack(im, s, b, fail),
                    )
                )
            stacks = [f.result() for f in stack_futures]

        predict_key = StepCache.key("prediction", stacks=stack_keys, model_seed=p["model_seed"])
        prediction = workflow.step(
            "prediction", predict_key, lambda fail: steps.predict(stacks, fail)
        )
        wall = log.now()

        result = self._result(z, stacks, prediction)
        return RunOutput(
            result,
            n_tasks=len(log.durations),
            # a cached re-run skips the work: no speed-up against the sequential run
            work_fraction=None if variant == "cached" else 1.0,
            metrics={
                "mode": steps.mode,
                "variant": variant,
                "retries": log.retries,
                "cache_hits": log.hits,
                "cache_misses": log.misses,
                "cache_dir": str(self.cache.directory),
                "critical_path_s": self._critical_path(log.durations),
                "sum_of_steps_s": sum(log.durations.values()),
                "nominal_critical_path_s": self.nominal_critical_path_s(),
                "workflow_s": wall,
                "camera": steps.camera_counters(),
                "timeline": sorted(log.timeline, key=lambda e: (e["start"], e["step"])),
            },
        )

    def _critical_path(self, durations: dict[str, float]) -> float:
        """Longest chain of dependent steps: z, the camera's captures in order, the last
        stack that waits on its capture, then the prediction."""
        finish = durations.get("z-positions", 0.0)
        latest_stack = 0.0
        for stripe, batch in self.batches():
            finish += durations.get(f"capture-s{stripe}-b{batch}", 0.0)
            latest_stack = max(
                latest_stack, finish + durations.get(f"stack-s{stripe}-b{batch}", 0.0)
            )
        return max(finish, latest_stack) + durations.get("prediction", 0.0)
