"""Workloads by name (the seed documents' programs), imported lazily; see ARCHITECTURE.md.

Besides the built-in names, a workload name may be ``module:Class`` (a Workload subclass
of the user's), the name of an entry point in the ``distlab.workloads`` group, or the
name a user function was registered under (:func:`register_functions`).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from distlab.contracts import DistlabError
from distlab.workloads.base import SIZES, RunOutput, Workload

# name -> (module, class); order is the order of the matrix
WORKLOADS: dict[str, tuple[str, str]] = {
    "squares": ("squares", "Squares"),
    "numbers": ("numbers", "Numbers"),
    "jobs": ("jobs", "Jobs"),
    "wordcount": ("wordcount", "Wordcount"),
    "gpu_queue": ("gpu_queue", "GpuQueue"),
    "kfold": ("kfold", "KFold"),
    "microscopy": ("microscopy", "Microscopy"),
    "stream": ("stream", "Stream"),
    "tpch": ("tpch", "Tpch"),
    "groupby": ("groupby", "Groupby"),
}
#: the entry-point group other packages declare their workload classes in
ENTRY_POINT_GROUP = "distlab.workloads"

#: user functions of this run: name -> FunctionSpec fields (RunSpec.functions)
_FUNCTIONS: dict[str, dict[str, Any]] = {}

__all__ = [
    "SIZES",
    "WORKLOADS",
    "RunOutput",
    "Workload",
    "create",
    "entry_point_names",
    "register_functions",
    "workload_class",
]


def register_functions(functions: dict[str, dict[str, Any]]) -> None:
    """Make user functions known by name in this process (each engine process registers
    the run's functions before it resolves names)."""
    _FUNCTIONS.update(functions)


def entry_point_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def workload_class(name: str) -> type[Workload]:
    if name in WORKLOADS:
        module, cls = WORKLOADS[name]
        return getattr(importlib.import_module(f"distlab.workloads.{module}"), cls)
    if name in _FUNCTIONS:
        from distlab.workloads.user import FunctionSpec, function_workload

        return function_workload(name, FunctionSpec(**_FUNCTIONS[name]))
    if ":" in name:
        from distlab.workloads.user import workload_from_spec

        return workload_from_spec(name)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        from distlab.workloads.user import workload_from_spec

        return workload_from_spec(ep.value)
    raise DistlabError(
        f"unknown workload {name!r}; choose from: {', '.join(WORKLOADS)} "
        "(or MODULE:CLASS for a workload of your own)"
    )


def create(name: str, size: str = "default", **overrides) -> Workload:
    wl = workload_class(name)(size, **overrides)
    wl.name = name  # a user's class is known by the name it was asked for
    return wl
