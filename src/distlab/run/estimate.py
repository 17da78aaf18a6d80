"""How long a run will take, said before it starts: a floor from what the workloads wait
on (sleeps, paced sends) at the chosen size, on every engine that runs them, with each
cell's warm-up and repetitions, plus each engine's start-up. Compute comes on top."""

from __future__ import annotations

import os

from distlab import registry
from distlab.run.model import RunSpec
from distlab.workloads import create as create_workload
from distlab.workloads import workload_class

#: an engine's start and close, roughly, on this kind of machine (JVMs and clusters)
ENGINE_OVERHEAD_S = 20.0


def waits_floor_s(spec: RunSpec) -> float:
    """Seconds the run spends at least waiting, over every engine and workload."""
    workers = spec.workers or os.cpu_count() or 1
    total = 0.0
    for name in spec.engines:
        entry = registry.entry(name)
        if not entry.installed():
            continue
        cls = registry.engine_class(name)
        total += ENGINE_OVERHEAD_S
        for w in spec.workloads:
            if workload_class(w).unsupported_reason(cls):
                continue
            wl = create_workload(w, spec.size, **spec.params.get(w, {}))
            for variant, seconds in wl.waits_s(workers).items():
                warmup, repeats = wl.repetitions(variant, spec.warmup, spec.repeats)
                total += seconds * (warmup + repeats)
    return total
