"""The microscope of workload W5 (microscopy): its steps as they run on the workers.

The work itself is pure and seeded (frames, mean images, the model's prediction), so the
same functions serve the actors, the tasks and the one-process golden answer. The camera
is a device with state (position, moves, images taken): on engines with actors it lives
in the CameraMotor actor, elsewhere each camera step takes the state and returns the new
one (TaskSteps). Every step returns its value and its timing (start, end, worker), and
raises TransientStepError when told to fail (injected failures, see FailurePlan).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from distlab.contracts import Engine
from distlab.workloads.workflow import raise_if_injected, step_timing

#: stripe/batch number of the focusing shot (seeds must be non-negative)
FOCUS_FRAME = 2**31


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
    raise_if_injected("z-positions", fail)
    _move(state, "focus", params)
    _snap(state, params, FOCUS_FRAME, FOCUS_FRAME, 0, 0)
    z = list(range(params["z_count"]))
    return state, z, step_timing(start)


def capture_batch(
    state: dict, stripe: int, batch: int, z_positions: list, params: dict, fail: bool = False
) -> tuple:
    start = time.time()
    raise_if_injected(f"capture-s{stripe}-b{batch}", fail)
    frames = []
    for i in range(params["images_per_batch"]):
        z = z_positions[i % len(z_positions)]
        _move(state, (stripe, batch, i, z), params)
        frames.append(_snap(state, params, stripe, batch, i, z))
    info = step_timing(start)
    return state, np.stack(frames), info


def stack_batch(images: np.ndarray, stripe: int, batch: int, params: dict, fail: bool = False):
    start = time.time()
    raise_if_injected(f"stack-s{stripe}-b{batch}", fail)
    _burn_cpu(params["stack_s"], images)
    stack = {"stripe": stripe, "batch": batch, "mean": mean_image(images)}
    return stack, step_timing(start)


def predict(stacks: list[dict], params: dict, fail: bool = False, kernel: np.ndarray | None = None):
    start = time.time()
    raise_if_injected("prediction", fail)
    time.sleep(params["predict_s"])
    kernel = model_kernel(params) if kernel is None else kernel
    return predict_from(stacks, kernel), step_timing(start)


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
