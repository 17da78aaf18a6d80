"""``distlab bench break-even``: how small can a task be on each engine?

Tasks of CPU work (not sleep) from 0.1 ms to 1 s, with every worker busy: at each task
duration d, n tasks go through ``map`` (one task per item, as a user sends them) and the
efficiency is the ideal time (n x t / workers) over the measured time, where t is the task
time measured where the tasks ran: each task reports the CPU time its worker thread spent
on it, and t is the median over the point's measured runs. The asked duration only sets
the amount of work; every figure (efficiency, the 90% crossing, the fit) is placed at t,
and a point whose t is far from the asked duration is flagged. (Timing the task in the
driver mislabelled points on a slower machine: a task asked to take 0.3 ms took 0.57 ms.
Its work is calibrated once in the driver, then again from the point's unmeasured probe
run on the workers themselves, so that t lands near the asked duration.)

A fitted per-task overhead o, with the share s of the workers' time left to tasks
(efficiency = s x t / (t + o): on a small machine the engine's own processes take CPU
whatever the task size), and the duration where the measured efficiency first reaches 90%
(interpolated on the log scale) say "on this machine, engine E needs tasks of at least X
ms".

The number of tasks at each point is chosen from the probe run, so that each measured run
lasts about ``point_s`` (at least 4 tasks per worker): an engine with a large per-task
cost gets fewer tiny tasks instead of minutes per point.
"""

from __future__ import annotations

import math
import statistics
import time
from functools import partial
from typing import Any

from distlab import registry
from distlab.bench.model import BenchJob
from distlab.contracts import DistlabError
from distlab.probes import spin, timed_spin
from distlab.stats import summarize

#: task durations in milliseconds (the issue's 0.1 ms to 1 s, ~3x apart)
DURATIONS_MS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
DEFAULTS: dict[str, Any] = {"durations_ms": list(DURATIONS_MS), "point_s": 1.0, "repeats": 3}
#: most tasks one point sends
MAX_TASKS = 4000
#: the efficiency the break-even duration is read at
TARGET = 0.9
#: a point whose measured task time is further than this factor from the asked one is
#: flagged (its figures stand at the measured time either way)
OFF_ASKED = 1.5
#: the fewest points a fit of the overhead model is made from (two parameters)
MIN_FIT_POINTS = 3


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
    engine never reaches 90%. None with fewer than :data:`MIN_FIT_POINTS` points."""
    usable = [(p["task_ms"], p["efficiency"]) for p in points if p.get("efficiency")]
    if len(usable) < MIN_FIT_POINTS:
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
    """The measured task time (ms) at which the measured efficiency first reaches
    ``target``, interpolated between the two points around it on a log scale; the first
    point's task time if it is already there (the crossing lies at or below it: see
    :func:`first_point_already_there`); None if no point reaches it."""
    prev = None
    for p in sorted(points, key=lambda p: p["task_ms"]):
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


def first_point_already_there(points: list[dict[str, Any]], target: float = TARGET) -> bool:
    """Whether the shortest measured task already reached ``target``: the crossing is then
    an upper bound ("0.1 ms or less"), not a reading."""
    measured = [p for p in points if p.get("efficiency") is not None]
    return bool(measured) and min(measured, key=lambda p: p["task_ms"])["efficiency"] >= target


def summarize_curve(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures read from a curve of points, each placed at its measured task time."""
    out: dict[str, Any] = {}
    model = fit_model(points)
    if model is not None:
        out["overhead_ms"], out["time_share"] = model
        fitted = fitted_break_even_ms(*model)
        out["fit_break_even_ms"] = fitted
        times = [p["task_ms"] for p in points if p.get("efficiency")]
        # a crossing the fit puts outside the measured task times is a guess beyond the data
        out["fit_extrapolated"] = fitted is not None and not (min(times) <= fitted <= max(times))
    out["break_even_ms"] = break_even_ms(points)
    out["break_even_at_most"] = first_point_already_there(points)
    # its spread: the same reading on the fastest and on the slowest repetitions
    fast = [{**pt, "efficiency": pt["efficiency_range"][1]} for pt in points]
    slow = [{**pt, "efficiency": pt["efficiency_range"][0]} for pt in points]
    out["break_even_range_ms"] = [break_even_ms(fast), break_even_ms(slow)]
    out["off_asked"] = [p["duration_ms"] for p in points if p.get("off_asked")]
    return out


def break_even_cell(job: BenchJob) -> dict[str, Any]:
    """One engine's curve (runs inside the engine's own process)."""
    p = {**DEFAULTS, **{k: v for k, v in job.params.items() if v is not None}}
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
    out.update(summarize_curve(out["points"]))
    return out


def _point(eng, duration_ms: float, speed: float, workers: int, p: dict) -> dict[str, Any]:
    expected: dict[int, int] = {}

    def run(iters: int, n: int) -> tuple[float, list[float]]:
        """One map of n tasks: its wall time and each task's CPU time on its worker."""
        t = time.perf_counter()
        got = eng.map(partial(timed_spin, iters), range(n))
        wall = time.perf_counter() - t
        if iters not in expected:  # checked outside the timing
            expected[iters] = spin(iters)[0]
        expected_value = expected[iters]
        if [(value, tag) for value, tag, _ in got] != [(expected_value, i) for i in range(n)]:
            raise DistlabError(f"{eng.name}: {n} tasks of {duration_ms} ms gave a wrong answer")
        return wall, [took for _, _, took in got]

    # unmeasured: calibrates the work on the workers themselves and sizes the point
    iters = max(1, round(duration_ms * speed))
    probe_n = 4 * workers
    probe_wall, probe_ms = run(iters, probe_n)
    on_workers = statistics.median(probe_ms)
    if on_workers > 0:
        iters = max(1, round(iters * duration_ms / on_workers))
    per_task_s = probe_wall / probe_n
    n = int(min(MAX_TASKS, max(4 * workers, p["point_s"] / per_task_s)))
    n = workers * math.ceil(n / workers)  # whole rounds: no idle worker at the end
    walls, task_ms = [], []
    for _ in range(p["repeats"]):
        wall, took = run(iters, n)
        walls.append(wall)
        task_ms += took
    wall = summarize(walls)
    task = summarize(task_ms)
    t = task["median"]
    ideal = n * t / 1e3 / workers
    return {
        "duration_ms": duration_ms,  # asked
        "task_ms": t,  # measured: every figure of the point stands here
        "task": {k: task[k] for k in ("n", "median", "min", "max", "iqr")},
        "off_asked": not (1 / OFF_ASKED <= t / duration_ms <= OFF_ASKED),
        "iterations": iters,
        "tasks": n,
        "wall": wall,
        "efficiency": ideal / wall["median"],
        # from the slowest and the fastest repetition: the efficiency's spread
        "efficiency_range": [ideal / wall["max"], ideal / wall["min"]],
        "overhead_ms": max(0.0, wall["median"] * workers / n * 1e3 - t),
    }
