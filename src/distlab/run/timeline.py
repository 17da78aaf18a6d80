"""A cell's task timeline (``distlab run --timeline``): for each task, when it was
submitted, started on its worker, ended there and its result was taken by the caller, on
one clock, and where each task's overhead went.

The timeline comes from one extra repetition after the ranked ones, never from a ranked
repetition: recording wraps every task (two appends to a log file on the worker, a
timestamp and a wrapped future on the driver), and the ranked figures must not carry that
cost. The cost is measured all the same (that repetition's time against the ranked
median, with the ranked repetitions' own spread beside it) and shown with the timeline.

The workers write their half into the task log that fault injection uses
(:mod:`distlab.contracts.tasklog`), so the clocks are one: the driver and every worker on
this machine or on the test hosts (network namespaces of one kernel) read the same
``time.time``. Workers of a remote cluster cannot write the driver's file, and then the
timeline says it is unavailable rather than guess at clock offsets.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from distlab.contracts import TASKS, Engine, error_line
from distlab.contracts.tasklog import LogState, TaskLog
from distlab.stats import percentiles
from distlab.workloads.base import RunOutput, Workload

#: tasks kept in the results file per cell (the splits are computed over all of them)
MAX_TASKS_KEPT = 2000
#: the phases of a task's life, in order (seconds): submitted -> its worker free
#: ("queued": every worker busy with earlier tasks), -> started on it ("dispatch": the
#: engine's own delay), started -> ended ("run"), ended -> taken by the caller, beyond any
#: wait for earlier results ("return"), and that wait ("in line")
PHASES = ("queued", "dispatch", "run", "return", "in_line")


def can_record(engine: Engine, wl: Workload) -> bool:
    return wl.shape == TASKS and hasattr(engine, "task_log")


def record(
    engine: Engine,
    wl: Workload,
    variant: str,
    ranked: list[float],
    timed_run: Callable[[Workload, Engine, str], tuple[RunOutput, float]],
) -> dict[str, Any]:
    """One extra, unranked repetition with every task recorded, run by ``timed_run`` (the
    cell's own: run.measure): the cell's timeline."""
    log = TaskLog(timeline=True)
    engine.task_log = log
    t0 = time.time()
    try:
        out, wall = timed_run(wl, engine, variant)
        state = log.read()
    except Exception as exc:
        return {"available": False, "reason": f"the recorded repetition failed: {error_line(exc)}"}
    finally:
        engine.task_log = None
        log.close()
    ok, detail = wl.verify(out, variant)
    if not ok:
        return {
            "available": False,
            "reason": f"the recorded repetition's answer was wrong: {detail}",
        }
    made = build(state, log.submitted_at, log.received_at, t0)
    made["cost"] = recording_cost(wall, ranked)
    return made


def recording_cost(recorded_s: float, ranked: list[float]) -> dict[str, Any]:
    """The recorded repetition against the ranked ones: its time over their median, and
    their own spread (a cost inside that spread is not told apart from noise)."""
    if not ranked:
        return {"recorded_s": round(recorded_s, 6)}
    median = statistics.median(ranked)
    return {
        "recorded_s": round(recorded_s, 6),
        "ranked_median_s": round(median, 6),
        "ratio": round(recorded_s / median, 4) if median > 0 else None,
        "ranked_low": round(min(ranked) / median, 4) if median > 0 else None,
        "ranked_high": round(max(ranked) / median, 4) if median > 0 else None,
        "ranked_n": len(ranked),
    }


def build(
    state: LogState, submitted: dict[int, float], received: dict[int, float], t0: float
) -> dict[str, Any]:
    """The timeline from the workers' log and the driver's two ends of each task."""
    first = {}  # task id -> its first execution (a re-run after a fault is a later one)
    for x in state.executions:
        first.setdefault(x.task_id, x)
    rows = []
    for task_id in sorted(submitted):
        x = first.get(task_id)
        if x is None or x.end is None or task_id not in received:
            continue
        rows.append([task_id, x.pid, submitted[task_id], x.start, x.end, received[task_id]])
    if not rows:
        return {
            "available": False,
            "reason": (
                "no task wrote its start and end to the task log: the workers cannot see "
                "this machine's files (a remote cluster), so there is no common clock"
            ),
            "tasks_submitted": len(submitted),
        }
    phases = _phases(rows)
    split = {}
    for name in PHASES:
        p = percentiles(phases[name], (50, 99))
        split[name] = {
            "p50_ms": round(p["p50"] * 1e3, 3),
            "p99_ms": round(p["p99"] * 1e3, 3),
            "total_s": round(sum(phases[name]), 6),
        }
    begin, finish = min(r[2] for r in rows), max(r[5] for r in rows)
    window = finish - begin
    workers = {}
    for pid in sorted({r[1] for r in rows}):
        busy = sum(r[4] - r[3] for r in rows if r[1] == pid)
        workers[str(pid)] = {
            "tasks": sum(1 for r in rows if r[1] == pid),
            "busy_s": round(busy, 6),
            "idle_s": round(max(0.0, window - busy), 6),
        }
    kept = rows[:MAX_TASKS_KEPT]
    return {
        "available": True,
        "clock": "time.time on the driver and the workers (one kernel clock)",
        "tasks_recorded": len(rows),
        "tasks_submitted": len(submitted),
        "window_s": round(window, 6),
        "split": split,
        "workers": workers,
        # [id, worker pid, submitted, started, ended, received], seconds after the
        # repetition began
        "tasks": [[r[0], r[1], *(round(t - t0, 6) for t in r[2:])] for r in kept],
        "tasks_kept": len(kept),
    }


def _phases(rows: list[list]) -> dict[str, list[float]]:
    """Each task's phases. A task waits "queued" while the worker that runs it is still
    busy with an earlier task; only from the later of its submit and that worker's
    previous end is it the engine's "dispatch". The caller takes results one after
    another: a task that ended while the caller was still waiting for an earlier result
    waits "in line" until that one was taken; only the rest of its way back is "return"."""
    out: dict[str, list[float]] = {name: [] for name in PHASES}
    free_at: dict[int, float] = {}  # worker pid -> when its previous task ended
    for _, pid, sub, start, end, _recv in sorted(rows, key=lambda r: r[3]):
        ready = max(sub, free_at.get(pid, sub))
        out["queued"].append(max(0.0, min(ready, start) - sub))
        out["dispatch"].append(max(0.0, start - ready))
        free_at[pid] = end
    taken_before = None  # when the caller took the result before this one
    for _, _, _sub, start, end, recv in sorted(rows, key=lambda r: r[5]):
        ready = end if taken_before is None else max(end, taken_before)
        out["run"].append(end - start)
        out["in_line"].append(ready - end)
        out["return"].append(max(0.0, recv - ready))
        taken_before = recv
    return out
