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
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import socket
import tempfile
import threading
import time
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from distlab.contracts import Engine
from distlab.workloads.base import RunOutput, Workload

CACHE_FORMAT = 1
#: parameters that shape results (and so enter cache keys); durations do not
RESULT_PARAMS = ("sample_seed", "model_seed", "image_shape", "images_per_batch")
#: stripe/batch number of the focusing shot (seeds must be non-negative)
FOCUS_FRAME = 2**31


class TransientStepError(RuntimeError):
    """An injected, transient failure of a step (a camera glitch, a lost worker)."""


class StepFailed(RuntimeError):
    """A step still failed after every retry."""


# -- the work itself (pure functions; the same in actors, tasks and the golden) --------------
def generate_image(params: dict, stripe: int, batch: int, index: int, z: int) -> np.ndarray:
    """One camera frame: seeded noise plus a bright spot whose place depends on the stripe."""
    shape = tuple(params["image_shape"])
    rng = np.random.default_rng([params["sample_seed"], stripe, batch, index, z])
    frame = rng.random(shape)
    spot = np.random.default_rng([params["sample_seed"], stripe]).integers(0, shape)
    frame[tuple(spot)] += 2.0 + 0.5 * (z == 1)  # sharpest in focus
    return frame


def mean_image(images: np.ndarray) -> np.ndarray:
    return images.mean(axis=0)


def model_kernel(params: dict) -> np.ndarray:
    return np.random.default_rng(params["model_seed"]).standard_normal(tuple(params["image_shape"]))


def predict_from(stacks: list[dict], kernel: np.ndarray) -> dict[str, Any]:
    """Where the cell is in each stack and how strongly the model responds to it."""
    scores = [float(np.sum(s["mean"] * kernel)) for s in stacks]
    spots = [
        [int(v) for v in np.unravel_index(np.argmax(s["mean"]), s["mean"].shape)] for s in stacks
    ]
    return {"spots": spots, "scores": scores, "best_stack": int(np.argmax(scores))}


def summarize_stack(stack: dict) -> dict[str, Any]:
    return {"stripe": stack["stripe"], "batch": stack["batch"], "sum": float(stack["mean"].sum())}


# -- steps as they run on workers -----------------------------------------------------------
def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _check_injected(step: str, fail: bool) -> None:
    if fail:
        raise TransientStepError(f"injected transient failure in {step}")


def _burn_cpu(seconds: float, images: np.ndarray) -> None:
    """Keep one core busy for ``seconds`` with real array work (the original's stress)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        images.mean(axis=0)


def new_camera_state() -> dict[str, Any]:
    return {"position": None, "moves": 0, "images": 0}


def _move(state: dict, position: Any, params: dict) -> None:
    time.sleep(params["move_s"])
    state["position"] = position
    state["moves"] += 1


def _snap(state: dict, params: dict, stripe: int, batch: int, index: int, z: int) -> np.ndarray:
    time.sleep(params["image_s"])
    state["images"] += 1
    return generate_image(params, stripe, batch, index, z)


def find_z_positions(state: dict, params: dict, fail: bool = False) -> tuple:
    start = time.time()
    _check_injected("z-positions", fail)
    _move(state, "focus", params)
    _snap(state, params, FOCUS_FRAME, FOCUS_FRAME, 0, 0)
    z = list(range(params["z_count"]))
    return state, z, {"start": start, "end": time.time(), "worker": _worker()}


def capture_batch(
    state: dict, stripe: int, batch: int, z_positions: list, params: dict, fail: bool = False
) -> tuple:
    start = time.time()
    _check_injected(f"capture-s{stripe}-b{batch}", fail)
    frames = []
    for i in range(params["images_per_batch"]):
        z = z_positions[i % len(z_positions)]
        _move(state, (stripe, batch, i, z), params)
        frames.append(_snap(state, params, stripe, batch, i, z))
    info = {"start": start, "end": time.time(), "worker": _worker()}
    return state, np.stack(frames), info


def stack_batch(images: np.ndarray, stripe: int, batch: int, params: dict, fail: bool = False):
    start = time.time()
    _check_injected(f"stack-s{stripe}-b{batch}", fail)
    _burn_cpu(params["stack_s"], images)
    stack = {"stripe": stripe, "batch": batch, "mean": mean_image(images)}
    return stack, {"start": start, "end": time.time(), "worker": _worker()}


def predict(stacks: list[dict], params: dict, fail: bool = False, kernel: np.ndarray | None = None):
    start = time.time()
    _check_injected("prediction", fail)
    time.sleep(params["predict_s"])
    kernel = model_kernel(params) if kernel is None else kernel
    return predict_from(stacks, kernel), {"start": start, "end": time.time(), "worker": _worker()}


# -- the original's three stateful actors ------------------------------------------------------
class CameraMotor:
    """The camera and its motor: one device, so its calls run one at a time."""

    def __init__(self) -> None:
        self.state = new_camera_state()

    def find_z_positions(self, params: dict, fail: bool = False) -> tuple:
        self.state, z, info = find_z_positions(self.state, params, fail)
        return z, info

    def capture(self, stripe: int, batch: int, z_positions: list, params: dict, fail: bool = False):
        self.state, images, info = capture_batch(
            self.state, stripe, batch, z_positions, params, fail
        )
        return images, info

    def counters(self) -> dict[str, Any]:
        return dict(self.state)


class Stacking:
    def __init__(self) -> None:
        self.stacked = 0

    def stack(self, images: np.ndarray, stripe: int, batch: int, params: dict, fail: bool = False):
        result = stack_batch(images, stripe, batch, params, fail)
        self.stacked += 1
        return result


class Prediction:
    """Holds the model (loaded once, at start) between predictions."""

    def __init__(self, params: dict) -> None:
        self.kernel = model_kernel(params)

    def predict(self, stacks: list[dict], params: dict, fail: bool = False):
        return predict(stacks, params, fail, kernel=self.kernel)


# -- how a step reaches the engine: actors, or tasks carrying the camera state -------------
class ActorSteps:
    mode = "actors"

    def __init__(self, engine: Engine, params: dict):
        self.engine, self.params = engine, params
        self._actors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _actor(self, name: str) -> Any:
        with self._lock:  # created on first use: a fully cached run starts none
            if name not in self._actors:
                if name == "camera":
                    self._actors[name] = self.engine.create_actor(CameraMotor)
                elif name == "stacking":
                    self._actors[name] = self.engine.create_actor(Stacking)
                else:
                    self._actors[name] = self.engine.create_actor(Prediction, self.params)
            return self._actors[name]

    def z_positions(self, fail: bool):
        return self._actor("camera").call("find_z_positions", self.params, fail).result()

    def capture(self, stripe: int, batch: int, z: list, fail: bool):
        return self._actor("camera").call("capture", stripe, batch, z, self.params, fail).result()

    def stack(self, images: np.ndarray, stripe: int, batch: int, fail: bool):
        return (
            self._actor("stacking").call("stack", images, stripe, batch, self.params, fail).result()
        )

    def predict(self, stacks: list[dict], fail: bool):
        return self._actor("prediction").call("predict", stacks, self.params, fail).result()

    def camera_counters(self) -> dict[str, Any] | None:
        camera = self._actors.get("camera")
        return camera.call("counters").result() if camera is not None else None


class TaskSteps:
    """No actors: each camera step takes the camera's state and returns the new one."""

    mode = "tasks"

    def __init__(self, engine: Engine, params: dict):
        self.engine, self.params = engine, params
        self.camera = new_camera_state()
        self._used = False

    def z_positions(self, fail: bool):
        self._used = True
        self.camera, z, info = self.engine.submit(
            find_z_positions, self.camera, self.params, fail
        ).result()
        return z, info

    def capture(self, stripe: int, batch: int, z: list, fail: bool):
        self._used = True
        self.camera, images, info = self.engine.submit(
            capture_batch, self.camera, stripe, batch, z, self.params, fail
        ).result()
        return images, info

    def stack(self, images: np.ndarray, stripe: int, batch: int, fail: bool):
        return self.engine.submit(stack_batch, images, stripe, batch, self.params, fail).result()

    def predict(self, stacks: list[dict], fail: bool):
        return self.engine.submit(predict, stacks, self.params, fail).result()

    def camera_counters(self) -> dict[str, Any] | None:
        return dict(self.camera) if self._used else None


# -- the result cache ----------------------------------------------------------------------------
class StepCache:
    """Step results on disk, one file per key (written whole, then renamed into place)."""

    SUFFIX = ".step.pkl"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(kind: str, **inputs: Any) -> str:
        text = json.dumps({"format": CACHE_FORMAT, "kind": kind, **inputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{self.SUFFIX}"

    def get(self, key: str) -> tuple[bool, Any]:
        try:
            with open(self._path(key), "rb") as f:
                return True, pickle.load(f)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return False, None

    def put(self, key: str, value: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=5)
        os.replace(tmp, self._path(key))

    def clear(self) -> int:
        removed = 0
        for path in self.directory.glob(f"*{self.SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed


# -- one run's bookkeeping: timeline, retries, cache hits, live events -------------------------------
class RunLog:
    def __init__(self, monitor: Any):
        self.t0 = time.time()
        self.monitor = monitor
        self.timeline: list[dict[str, Any]] = []
        self.durations: dict[str, float] = {}
        self.retries = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() - self.t0

    def event(self, step: str, state: str, start: float, end: float, worker: str, **extra) -> None:
        entry = {
            "step": step,
            "state": state,
            "start": start,
            "end": end,
            "worker": worker,
            **extra,
        }
        with self._lock:
            if state != "running":
                self.timeline.append(entry)
            self.monitor(
                step=step, state=state, seconds=round(end - start, 4), t=round(end, 4), **extra
            )


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
        "tiny": {**_base, "time_scale": 0.01},
        "default": {**_base, "time_scale": 0.03},
        "seed": {**_base, "time_scale": 1.0},
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

    def verify(self, output: RunOutput) -> tuple[bool, str]:
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
        p = self.step_params()
        shaping = {k: p[k] for k in RESULT_PARAMS}

        z_key = StepCache.key("z-positions", z_count=p["z_count"])
        z = self._step(log, "z-positions", z_key, steps.z_positions)

        stack_keys, stack_futures = [], []
        with ThreadPoolExecutor(max_workers=max(1, len(self.batches()))) as stackers:
            for stripe, batch in self.batches():
                # the camera is one device: batches are captured one after another
                capture_key = StepCache.key("capture", stripe=stripe, batch=batch, z=z, **shaping)
                images = self._step(
                    log,
                    f"capture-s{stripe}-b{batch}",
                    capture_key,
                    lambda fail, s=stripe, b=batch: steps.capture(s, b, z, fail),
                )
                # stack this batch now, while the camera takes the next one
                stack_key = StepCache.key("stack", capture=capture_key)
                stack_keys.append(stack_key)
                stack_futures.append(
                    stackers.submit(
                        self._step,
                        log,
                        f"stack-s{stripe}-b{batch}",
                        stack_key,
                        lambda fail, im=images, s=stripe, b=batch: steps.stack(im, s, b, fail),
                    )
                )
            stacks = [f.result() for f in stack_futures]

        predict_key = StepCache.key("prediction", stacks=stack_keys, model_seed=p["model_seed"])
        prediction = self._step(
            log, "prediction", predict_key, lambda fail: steps.predict(stacks, fail)
        )
        wall = log.now()

        result = self._result(z, stacks, prediction)
        return RunOutput(
            result,
            n_tasks=len(log.durations),
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
                # a cached re-run skips the work: no speed-up against the sequential run
                "work_fraction": None if variant == "cached" else 1.0,
                "camera": steps.camera_counters(),
                "timeline": sorted(log.timeline, key=lambda e: (e["start"], e["step"])),
            },
        )

    def _injected(self, step: str, attempt: int) -> bool:
        """Whether this attempt of this step fails (decided reproducibly, before it runs)."""
        planned = self.params.get("failures") or {}
        if step in planned:
            return attempt < int(planned[step])
        rate = float(self.params["failure_rate"])
        if rate <= 0:
            return False
        rng = np.random.default_rng(
            [int(self.params["failure_seed"]), zlib.crc32(step.encode()), attempt]
        )
        return bool(rng.random() < rate)

    def _step(self, log: RunLog, step: str, key: str, call: Any) -> Any:
        """Run one step: from the cache if its inputs were seen, else on the engine with retries."""
        start = log.now()
        hit, value = self.cache.get(key)
        if hit:
            with log._lock:
                log.hits += 1
                log.durations[step] = 0.0
            log.event(step, "cached", start, log.now(), "cache")
            return value
        with log._lock:
            log.misses += 1
        max_retries = int(self.params["max_retries"])
        spent_failing = 0.0
        for attempt in range(max_retries + 1):
            begin = log.now()
            log.event(step, "running", begin, begin, "", attempt=attempt)
            try:
                value, info = call(self._injected(step, attempt))
            except Exception as exc:
                end = log.now()
                spent_failing += end - begin
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if attempt == max_retries:
                    log.event(step, "failed", begin, end, "", attempt=attempt, error=error)
                    raise StepFailed(
                        f"step {step} failed after {attempt + 1} attempts: {error}"
                    ) from exc
                with log._lock:
                    log.retries += 1
                log.event(step, "retry", begin, end, "", attempt=attempt, error=error)
                continue
            # the step's own time, as the worker measured it
            w_start, w_end = info["start"] - log.t0, info["end"] - log.t0
            with log._lock:
                log.durations[step] = spent_failing + (w_end - w_start)
            log.event(step, "done", w_start, w_end, info["worker"], attempt=attempt)
            self.cache.put(key, value)
            return value
        raise AssertionError("unreachable")

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
