"""Ray's futures and actors with distlab's semantics (the task's own exception, a lost
task as TaskLost), and the wrappers a task is submitted in (resources -> Ray's options,
the granted units published on the worker)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import (
    LocalRayletDiedError,
    NodeDiedError,
    ObjectLostError,
    RayActorError,
    RayError,
    RayTaskError,
    WorkerCrashedError,
)

from distlab.contracts import RemoteTraceback, TaskLost
from distlab.engines.common.units import published_units


def raise_original(exc: RayTaskError) -> None:
    """Raise the task's own exception (its type, not Ray's wrapper) with the remote
    traceback as ``__cause__``; keep Ray's error when the cause did not survive."""
    original = exc.cause
    if isinstance(original, BaseException) and not isinstance(original, RayError):
        # str() of Ray's error is the remote traceback (the dual-class form Ray raises
        # has no traceback_str of its own).
        raise original from RemoteTraceback(str(exc))
    raise exc


#: how Ray says it lost a task (its worker, node or result died) once its retries are spent
LOSSES = (WorkerCrashedError, NodeDiedError, ObjectLostError, LocalRayletDiedError, RayActorError)


def raise_lost(exc: RayError) -> None:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    raise TaskLost(f"Ray lost the task ({type(exc).__name__}: {first})") from exc


class RayFuture:
    """An ObjectRef with the Future interface distlab promises."""

    __slots__ = ("ref",)

    def __init__(self, ref: ray.ObjectRef):
        self.ref = ref

    def result(self, timeout: float | None = None) -> Any:
        try:
            return ray.get(self.ref, timeout=timeout)
        except RayTaskError as exc:
            raise_original(exc)
        except LOSSES as exc:
            raise_lost(exc)

    def done(self) -> bool:
        ready, _ = ray.wait([self.ref], timeout=0, fetch_local=False)
        return bool(ready)


class RayActor:
    def __init__(self, handle: Any):
        self._handle = handle

    def call(self, method: str, *args: Any, **kwargs: Any) -> RayFuture:
        return RayFuture(getattr(self._handle, method).remote(*args, **kwargs))


def apply_callable(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # Carrier for callables ray.remote refuses (partials, callable objects, builtins).
    return fn(*args, **kwargs)


def run_with_units(
    requested: tuple[str, ...], fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """On the worker: publish the units Ray granted this task, then run it."""
    assigned = ray.get_runtime_context().get_accelerator_ids()
    units = {name: ids for name, ids in assigned.items() if name in requested}
    with published_units(units):
        return fn(*args, **kwargs)


def task_options(resources: dict[str, float]) -> dict[str, Any]:
    """distlab's {"GPU": 1, "CPU": 2, "disk": 1} -> Ray's num_gpus/num_cpus/resources."""
    custom = {k: float(v) for k, v in resources.items() if k not in ("CPU", "GPU")}
    options: dict[str, Any] = {"num_cpus": resources.get("CPU", 1)}
    if "GPU" in resources:
        options["num_gpus"] = resources["GPU"]
    if custom:
        options["resources"] = custom
    return options
