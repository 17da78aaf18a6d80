"""Workloads by name (the seed documents' programs), imported lazily; see ARCHITECTURE.md."""

from __future__ import annotations

import importlib

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
}

__all__ = ["SIZES", "WORKLOADS", "RunOutput", "Workload", "workload_class", "create"]


def workload_class(name: str) -> type[Workload]:
    try:
        module, cls = WORKLOADS[name]
    except KeyError:
        raise DistlabError(
            f"unknown workload {name!r}; choose from: {', '.join(WORKLOADS)}"
        ) from None
    return getattr(importlib.import_module(f"distlab.workloads.{module}"), cls)


def create(name: str, size: str = "default", **overrides) -> Workload:
    return workload_class(name)(size, **overrides)
