"""Resource units: how a total is split over workers, and variables set in this
process's environment for the span of one call.

A task's granted resource units (:func:`distlab.contracts.tasks.units_environment`:
DISTLAB_RESOURCE_UNITS, and CUDA_VISIBLE_DEVICES for GPUs) are published around the task
and restored after it, because worker processes are reused by later tasks. Adapters
whose workers hold their units for good (Dask, Celery's resource pools) set them once
per worker process instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

from distlab.contracts import units_environment


@contextlib.contextmanager
def temporary_environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def published_units(units: dict[str, Sequence[Any]]) -> contextlib.AbstractContextManager:
    """The task's granted ``units`` ({resource: ids}) in its environment while it runs."""
    return temporary_environment(units_environment(units))


def split_units(total: float, workers: int) -> list[float]:
    """``total`` units over ``workers``: as even as possible, the first ones get the rest.

    Whole totals give whole units per worker (5 over 2 -> [3, 2]); fractional totals are
    split evenly.
    """
    if float(total).is_integer():
        base, extra = divmod(int(total), workers)
        return [base + (1 if i < extra else 0) for i in range(workers)]
    return [total / workers] * workers
