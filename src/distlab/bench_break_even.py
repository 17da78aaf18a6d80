"""``distlab bench break-even``: how small can a task be on each engine?

Tasks of CPU work (not sleep) from 0.1 ms to 1 s, with every worker busy: at each task
duration d, n tasks go through ``map`` (one task per item, as a user sends them) and the
efficiency is the ideal time (n x d / workers, d measured by running one task in the
driver) over the measured time. A fitted per-task overhead o, with the share s of the workers' time left to tasks (efficiency = s x d / (d + o): on a
small machine the engine's own processes take CPU whatever the task size), and the
duration where the measured efficiency first reaches 90% (interpolated on the log scale)
say "on this machine, engine E needs tasks of at least X ms".

The number of tasks at each point is chosen from a first, unmeasured run of a few tasks,
so that each measured run lasts about ``point_s`` (at least 4 tasks per worker): an
engine with a large per-task cost gets fewer tiny tasks instead of minutes per point.
"""

from __future__ import annotations

import math
import statistics
import time
from functools import partial
from typing import Any

from distlab import registry
from distlab.contracts import DistlabError
from distlab.probes import spin
from distlab.run.model import EngineJob
from distlab.stats import summarize

#: task durations in milliseconds (the issue's 0.1 ms to 1 s, ~3x apart)
DURATIONS_MS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
DEFAULTS: dict[str, Any] = {"durations_ms": list(DURATIONS_MS), "point_s": 1.0, "repeats": 3}
#: most tasks one point sends
MAX_TASKS = 4000
#: the efficiency the break-even duration is read at
TARGET = 0.9


def iterations_per_ms() -> float:
    """spin()'s speed in this process: the best of a few runs of >= 50 ms."""
    n = 20_000
    while True:
        t = time.perf_counter()
        spin(n)
        took = time.perf_counter() - t
        if took >= 0.05:
            break
        n *= 2
    best = min(_timed(spin, n) for _ in range(3))
    return n / (best * 1e3)


def _timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def fit_model(points: list[dict[str, Any]]) -> tuple[float, float] | None:
    """(o, s): the per-task overhead o (ms) and the share s of the workers' time left to
    tasks that best explain the measured efficiencies as s x d / (d + o), least squares
    on log efficiency over a grid. s < 1 is CPU the engine's own processes (a driver, a
    scheduler, a broker on the same cores) take whatever the task size: with s <= 0.9 an
    engine never reaches 90%. None with fewer than two points."""
    usable = [(p["task_ms"], p["efficiency"]) for p in points if p.get("efficiency")]
    if len(usable) < 2:
        return None
    overheads = [10 ** (k / 40) for k in range(-200, 161)]  # 1e-5 ms .. 1e4 ms
    shares = [k / 200 for k in range(100, 211)]  # 0.5 .. 1.05

    def loss(o: float, share: float) -> float:
        return sum((math.log(e) - math.log(share * d / (d + o))) ** 2 for d, e in usable)

    return min(((o, sh) for o in overheads for sh in shares), key=lambda m: loss(*m))


def fit_overhead_ms(points: list[dict[str, Any]]) -> float | None:
    """The fitted per-task overhead of :func:`fit_model` (ms)."""
    model = fit_model(points)
    return model[0] if model else None


def fitted_break_even_ms(o: float, share: float, target: float = TARGET) -> float | None:
    """The task duration where share x d / (d + o) reaches ``target`` (None: never)."""
    if share <= target:
        return None
    return target * o / (share - target)


def break_even_ms(points: list[dict[str, Any]], target: float = TARGET) -> float | None:
    """The task duration (ms) at which the measured efficiency first reaches ``target``,
    interpolated between the two points around it on a log scale; the first point's
    duration if it is already there; None if no point reaches it."""
    prev = None
    for p in points:
        e = p.get("efficiency")
        if e is None:
            continue
        if e >= target:
            if prev is None:
                return p["task_ms"]
            (d0, e0), d1 = prev, p["task_ms"]
            frac = (target - e0) / (e - e0) if e != e0 else 1.0
            return 10 ** (math.log10(d0) + frac * (math.log10(d1) - math.log10(d0)))
        prev = (p["task_ms"], e)
    return None


def break_even_cell(job: EngineJob) -> dict[str, Any]:
    """One engine's curve (runs inside the engine's own process)."""
    p = {**DEFAULTS, **{k: v for k, v in job.params["bench"].items() if v is not None}}
    speed = iterations_per_ms()
    eng = registry.create(job.engine, address=job.address, workers=job.workers)
    t0 = time.perf_counter()
    eng.start()
    out: dict[str, Any] = {"engine": job.engine, "startup_s": time.perf_counter() - t0}
    try:
        workers = eng.workers or 1
        out.update(workers=workers, iterations_per_ms=speed, points=[])
        for duration in p["durations_ms"]:
            out["points"].append(_point(eng, duration, speed, workers, p))
    finally:
        eng.close()
    model = fit_model(out["points"])
    if model is not None:
        out["overhead_ms"], out["time_share"] = model
        out["fit_break_even_ms"] = fitted_break_even_ms(*model)
    out["break_even_ms"] = break_even_ms(out["points"])
    # its spread: the same reading on the fastest and on the slowest repetitions
    fast = [{**pt, "efficiency": pt["efficiency_range"][1]} for pt in out["points"]]
    slow = [{**pt, "efficiency": pt["efficiency_range"][0]} for pt in out["points"]]
    out["break_even_range_ms"] = [break_even_ms(fast), break_even_ms(slow)]
    return out


def _point(eng, duration_ms: float, speed: float, workers: int, p: dict) -> dict[str, Any]:
    iters = max(1, round(duration_ms * speed))
    expected_value = spin(iters)[0]
    task_ms = statistics.median(_timed(spin, iters) for _ in range(5)) * 1e3

    def run(n: int) -> float:
        t = time.perf_counter()
        got = eng.map(partial(spin, iters), range(n))
        wall = time.perf_counter() - t
        if got != [(expected_value, i) for i in range(n)]:  # checked outside the timing
            raise DistlabError(f"{eng.name}: {n} tasks of {duration_ms} ms gave a wrong answer")
        return wall

    probe_n = 2 * workers
    per_task_s = run(probe_n) / probe_n  # unmeasured: sizes the point
    n = int(min(MAX_TASKS, max(4 * workers, p["point_s"] / per_task_s)))
    n = workers * math.ceil(n / workers)  # whole rounds: no idle worker at the end
    samples = [run(n) for _ in range(p["repeats"])]
    wall = summarize(samples)
    ideal = n * task_ms / 1e3 / workers
    return {
        "duration_ms": duration_ms,
        "task_ms": task_ms,
        "tasks": n,
        "wall": wall,
        "efficiency": ideal / wall["median"],
        # from the slowest and the fastest repetition: the efficiency's spread
        "efficiency_range": [ideal / wall["max"], ideal / wall["min"]],
        "overhead_ms": max(0.0, wall["median"] * workers / n * 1e3 - task_ms),
    }
