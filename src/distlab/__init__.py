"""distlab: run the same workloads on many distributed-computing engines, verify, measure.

import distlab
with distlab.engine("dask") as ex:
    squares = ex.map(pow2, range(10))
"""

from __future__ import annotations

from distlab.contracts import DistlabError, Engine, RemoteTraceback

__version__ = "0.1.0"
__all__ = [
    "DistlabError",
    "Engine",
    "RemoteTraceback",
    "advise",
    "compare",
    "engine",
    "__version__",
]


def engine(
    name: str = "local", address: str | None = None, workers: int | None = None, **options
) -> Engine:
    """The engine adapter called ``name``; use it in a ``with`` block to start and stop it."""
    from distlab.registry import create

    return create(name, address=address, workers=workers, **options)


def compare(fn, items, engines: list[str] | None = None, **options):
    """Your function over ``items`` on each engine: verified against its sequential run,
    measured, ranked; writes results.json and report.html (see distlab.run.yours)."""
    from distlab.run.yours import compare as run_compare

    return run_compare(fn, items, engines, **options)


def advise(
    fn, items, engines: list[str] | None = None, workers: list[int] | None = None, **options
):
    """Which engine, chunk size and worker count for ``[fn(x) for x in items]`` on this
    machine: profiled, predicted, raced for real and verified; the Advice's ``text()``
    is what ``distlab advise`` prints (see distlab.advice)."""
    from distlab.advice import advise as run_advise

    return run_advise(fn, items, engines, workers, **options)
