"""A run planned to a time budget: ``distlab run --budget 5m`` (the main job's default).

Machines of one kind differ in speed by up to 2x, and the main job's cost does not
shrink with the work (engine start-ups, a JVM job per stream). So a run predicts its own
length before anything starts: each engine's cost per workload at the default size, as
measured on a reference machine (:data:`COSTS`, with that machine's speed figure
:data:`REFERENCE_SPEED_S`), scaled by this machine's speed figure (machine_speed, timed
at the run's start). Where the prediction exceeds the budget, the plan shortens first
what costs the least information, then leaves out whole rows of the matrix (a workload,
or one of the stream's variants, on every engine), one at a time, until it fits: never a
part of a row, where a star could go to the best of the engines that happened to run, and
never an engine that still has a row to run. The results record the plan and the report says what was
shortened and left out. A prediction is a model, not a promise:
the plan records it beside what the run then took.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from distlab.contracts import DistlabError
from distlab.registry import split_name
from distlab.results import Results
from distlab.run.model import RunSpec
from distlab.workloads import WORKLOADS

#: the speed figure (machine_speed.measure, best of 7) of the machine COSTS were measured on
REFERENCE_SPEED_S = 0.18
#: seconds each engine spent at the default size on that machine: "fixed" (start-up,
#: close, its process and imports), then each workload's cells (the stream's variants
#: apart), warm-ups and extra repetitions included (costs_from() makes this from a
#: results file)
COSTS: dict[str, dict[str, float]] = {
    # the single-process references; the raw pipe's search (the sweep's ceiling, only
    # measured with the sweep) is most of it
    "reference": {"fixed": 3.0, "stream/sweep": 14.8},
    "local": {"fixed": 2.1, "squares": 1.5, "numbers": 2.8, "jobs": 4.5, "wordcount": 0.3,
              "gpu_queue": 3.7, "kfold": 3.8, "microscopy": 5.3},
    "ray": {"fixed": 6.5, "squares": 1.5, "numbers": 3.6, "jobs": 4.3, "wordcount": 0.2,
            "gpu_queue": 3.2, "kfold": 4.8, "microscopy": 10.4, "stream/sweep": 20.0,
            "stream/fixed_rate": 6.5, "stream/top_n": 6.5, "tpch": 18.5},
    "dask": {"fixed": 3.7, "squares": 1.2, "numbers": 3.6, "jobs": 4.3, "wordcount": 1.4,
             "gpu_queue": 2.6, "kfold": 4.2, "microscopy": 3.8, "stream/sweep": 13.2,
             "stream/fixed_rate": 6.5, "stream/top_n": 6.5, "tpch": 8.2},
    "celery": {"fixed": 4.5, "squares": 1.2, "numbers": 3.8, "jobs": 4.3, "wordcount": 0.2,
               "gpu_queue": 2.7, "kfold": 4.1, "microscopy": 3.8},
    # the task queues, measured on a machine of the same speed figure (0.18 s)
    "dramatiq": {"fixed": 4.6, "squares": 2.2, "numbers": 4.6, "jobs": 5.0, "wordcount": 0.6,
                 "kfold": 6.1, "microscopy": 7.6},
    "rq": {"fixed": 3.8, "squares": 3.9, "numbers": 23.5, "jobs": 10.3, "wordcount": 1.0,
           "kfold": 28.7, "microscopy": 9.2},
    "huey": {"fixed": 2.9, "squares": 1.7, "numbers": 3.8, "jobs": 4.9, "wordcount": 0.2,
             "kfold": 3.9, "microscopy": 6.8},
    "taskiq": {"fixed": 13.8, "squares": 1.7, "numbers": 4.4, "jobs": 8.7, "wordcount": 0.7,
               "kfold": 3.2, "microscopy": 7.5},
    "arq": {"fixed": 2.4, "squares": 10.1, "numbers": 43.7, "jobs": 27.7, "wordcount": 3.1,
            "kfold": 13.5, "microscopy": 12.7},
    "kafka": {"fixed": 7.3, "squares": 1.7, "numbers": 3.7, "jobs": 4.3, "wordcount": 0.2,
              "kfold": 4.3, "microscopy": 4.5, "stream/sweep": 17.1,
              "stream/fixed_rate": 6.5, "stream/top_n": 6.4},
    "scoop": {"fixed": 2.2, "squares": 1.2, "numbers": 2.6, "jobs": 4.2, "wordcount": 0.3,
              "kfold": 3.6, "microscopy": 3.7},
    "spark": {"fixed": 11.2, "squares": 2.9, "numbers": 10.2, "jobs": 5.4, "wordcount": 8.1,
              "kfold": 6.3, "microscopy": 5.6, "stream/sweep": 31.6,
              "stream/fixed_rate": 11.7, "stream/top_n": 14.0, "tpch": 32.0},
    "flink": {"fixed": 3.3, "wordcount": 32.4, "stream/sweep": 69.6,
              "stream/fixed_rate": 13.6, "stream/top_n": 14.2, "tpch": 60.4},
    "mapreduce": {"fixed": 13.2, "wordcount": 21.8},
    # the dataframe engines' TPC-H row (Q1, Q3, Q6 at SF 0.1), measured at speed 0.20 s
    "pandas": {"fixed": 0.7, "tpch": 17.7},
    "polars": {"fixed": 0.9, "tpch": 1.1},
    "duckdb": {"fixed": 0.6, "tpch": 1.8},
    "daft": {"fixed": 1.1, "tpch": 3.1},
    # the Python stream processors, measured at speed 0.20-0.21 s and scaled to 0.18 s
    "bytewax": {"fixed": 0.3, "stream/sweep": 19.8, "stream/fixed_rate": 7.1,
                "stream/top_n": 7.1},
    "quixstreams": {"fixed": 0.5, "stream/sweep": 52.6, "stream/fixed_rate": 13.0,
                    "stream/top_n": 14.1},
}  # fmt: skip
#: the run's own share besides the engines: the speed reference, the stream broker's
#: start, the CLI, the report
RUN_FIXED_S = 9.0
#: what a cell not in COSTS (a user's workload, an engine of a plugin) is taken to cost
UNKNOWN_CELL_S = 5.0
#: the steps machines are told apart by (speed_class)
SPEED_STEP = 1.25
#: the main job's default budget
DEFAULT_BUDGET_S = 300.0
#: the share of the budget a plan aims at: the prediction is off by up to ~10% from one
#: run to the next on the same machine
AIM = 0.9


@dataclass(frozen=True)
class Shortening:
    """A cheaper way to run a workload, and what it costs in information."""

    workload: str
    params: dict[str, Any]
    #: the share of each variant's cost that remains
    keeps: dict[str, float]
    says: str


#: tried in this order before anything is left out
SHORTENINGS = (
    Shortening(
        "stream",
        {"sweep_confirm": False},
        {"sweep": 0.8},
        "stream sweep: the highest sustained rate not measured a second time (no star on that row)",
    ),
    Shortening(
        "stream",
        {"trials": 1},
        {"fixed_rate": 0.4, "top_n": 0.4},
        "fixed-rate streams: one trial instead of three (their p99s marked ~)",
    ),
)


@dataclass
class Plan:
    budget_s: float | None
    speed_s: float
    predicted_s: float
    #: the prediction of the whole run as asked, before anything was shortened
    asked_s: float
    shortened: list[str] = field(default_factory=list)
    #: what was left out, in order: "engine NAME", or a row "WORKLOAD" / "WORKLOAD/VARIANT"
    left_out: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: False at a size whose costs were never measured (tiny, seed): nothing is predicted
    predicted: bool = True

    @property
    def engines_left_out(self) -> set[str]:
        return {u.removeprefix("engine ") for u in self.left_out if u.startswith("engine ")}

    @property
    def rows_left_out(self) -> list[str]:
        return [u for u in self.left_out if not u.startswith("engine ")]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reference_speed_s"] = REFERENCE_SPEED_S
        out["summary"] = self.summary()
        return out

    def summary(self) -> str:
        """One line for the terminal and the report."""
        if not self.predicted:
            stated = f"time budget {_mmss(self.budget_s)}" if self.budget_s else "no time budget"
            return f"{stated} (not planned: run costs are known at the default size only)"
        if self.budget_s is None:
            return f"no time budget (predicted {_mmss(self.asked_s)} on this machine)"
        head = (
            f"time budget {_mmss(self.budget_s)}: the run as asked was predicted at "
            f"{_mmss(self.asked_s)} on this machine (speed figure {self.speed_s:.2f} s, the "
            f"costs' machine {REFERENCE_SPEED_S:.2f} s: {speed_class(self.speed_s):.2f}x)"
        )
        if not self.shortened and not self.left_out:
            return head + ": nothing shortened"
        parts = list(self.shortened)
        if self.left_out:
            parts.append("left out: " + ", ".join(self.left_out))
        return f"{head}; planned to {_mmss(self.predicted_s)}: " + "; ".join(parts)


def parse_budget(text: str | None, size: str) -> float | None:
    """'5m', '90s', '1m30s', '300' (seconds) or 'none'; None (not given) is the default:
    5 minutes for the default size, none for the others."""
    if text is None:
        return DEFAULT_BUDGET_S if size == "default" else None
    if text.strip().lower() in ("none", "no", "off"):
        return None
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or not m or (m.group(1) is None and m.group(2) is None):
        raise DistlabError(f"--budget must be a duration like 5m, 90s or 1m30s, or none: {text!r}")
    seconds = float(m.group(1) or 0) * 60 + float(m.group(2) or 0)
    if seconds <= 0:
        raise DistlabError("--budget must be longer than zero (or none)")
    return seconds


def _mmss(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _rows(workload: str) -> list[str]:
    """The rows a workload's costs are kept by: the stream's variants apart."""
    return (
        ["stream/sweep", "stream/fixed_rate", "stream/top_n"]
        if workload == "stream"
        else [workload]
    )


def cell_costs(spec: RunSpec) -> dict[tuple[str, str], float]:
    """(engine, row) -> seconds on the costs' machine, for what the spec runs."""
    out = {}
    for engine in spec.engines:
        if engine == "reference":
            continue
        costs = COSTS.get(split_name(engine)[0])  # rq:at_least_once costs as rq
        for w in spec.workloads:
            for row in _rows(w):
                if costs is None:  # an engine of a plugin: a guess, said to be one
                    out[(engine, row)] = UNKNOWN_CELL_S / len(_rows(w))
                elif row in costs:  # absent: the engine does not run it (unsupported)
                    out[(engine, row)] = costs[row]
                elif w not in WORKLOADS:  # a user's workload
                    out[(engine, row)] = UNKNOWN_CELL_S
    return out


def _total(spec: RunSpec, cells: dict[tuple[str, str], float], scale: float) -> float:
    engines = {e for e, _row in cells}
    ref = COSTS["reference"]
    fixed = RUN_FIXED_S + ref["fixed"]
    fixed += sum(ref.get(row, 0.0) for row in {row for _e, row in cells})
    fixed += sum(COSTS.get(split_name(e)[0], {}).get("fixed", UNKNOWN_CELL_S) for e in engines)
    return (fixed + sum(cells.values())) * scale


def _units(cells: dict[tuple[str, str], float]) -> dict[str, list[tuple[str, str]]]:
    """What can be left out whole: each row on every engine. Rows, not engines: choosing
    an engine is comparing engines, and a row left out leaves every engine in the others
    (an engine goes only when none of its rows is left)."""
    units: dict[str, list[tuple[str, str]]] = {}
    for engine, row in cells:
        units.setdefault(row, []).append((engine, row))
    return units


def speed_class(speed_s: float) -> float:
    """How much slower than the costs' machine this one is, in steps of 1.25x (1, 1.25,
    1.56, 1.95, ...): the speed figure moves by ~10% from one run to the next on one
    machine, and a plan that followed it would leave out other rows in each."""
    steps = round(math.log(speed_s / REFERENCE_SPEED_S) / math.log(SPEED_STEP))
    return SPEED_STEP**steps


def plan(spec: RunSpec, speed_s: float, budget_s: float | None) -> Plan:
    """What to run so that the predicted time fits ``budget_s`` on a machine whose speed
    figure is ``speed_s``."""
    scale = speed_class(speed_s)
    cells = cell_costs(spec)
    asked = _total(spec, cells, scale)
    out = Plan(budget_s, speed_s, asked, asked, predicted=spec.size == "default")
    aim = None if budget_s is None else budget_s * AIM
    if aim is None or asked <= aim or spec.size != "default":
        # the costs were measured at the default size: at another the budget is stated,
        # not planned
        return out
    for step in SHORTENINGS:
        if out.predicted_s <= aim:
            break
        if step.workload not in spec.workloads:
            continue
        for key in cells:
            keep = step.keeps.get(key[1].partition("/")[2])
            if key[1].startswith(f"{step.workload}/") and keep is not None:
                cells[key] *= keep
        out.params.setdefault(step.workload, {}).update(step.params)
        out.shortened.append(step.says)
        out.predicted_s = _total(spec, cells, scale)
    # then the costliest whole row or engine, one at a time
    while out.predicted_s > aim and cells:
        units = _units(cells)
        saving = {
            unit: out.predicted_s
            - _total(spec, {k: v for k, v in cells.items() if k not in keys}, scale)
            for unit, keys in units.items()
        }
        over = out.predicted_s - aim
        enough = [u for u in units if saving[u] >= over]
        # the least that makes it fit, else the most that can go at once
        unit = min(enough, key=saving.get) if enough else max(units, key=saving.get)
        for key in units[unit]:
            del cells[key]
        out.left_out.append(unit)
        out.predicted_s = _total(spec, cells, scale)
    # an engine none of whose rows is left has nothing to start for
    for engine in dict.fromkeys(e for e, _row in cell_costs(spec)):
        if f"engine {engine}" not in out.left_out and not any(e == engine for e, _ in cells):
            out.left_out.append(f"engine {engine}")
    # a shortening of rows that were then left out whole shortened nothing
    for step in SHORTENINGS:
        rows = {f"{step.workload}/{v}" for v in step.keeps}
        if step.says in out.shortened and rows <= set(out.left_out):
            out.shortened.remove(step.says)
            for name in step.params:
                out.params[step.workload].pop(name, None)
    return out


def costs_from(doc: Results) -> dict[str, dict[str, float]]:
    """COSTS as a results file of a default run measured them (to renew the table when the
    workloads or engines change)."""
    timing = doc.timing.engines if doc.timing else {}
    out: dict[str, dict[str, float]] = {}
    for name, whole in timing.items():
        per: dict[str, float] = {}
        for c in doc.cells:
            if c.engine != name:
                continue
            spent = c.time_spent or {}
            seconds = sum(spent.get(k) or 0 for k in ("warmup", "measured", "other"))
            if seconds:
                key = c.workload + (f"/{c.variant}" if c.workload == "stream" else "")
                per[key] = per.get(key, 0.0) + seconds
        out[name] = {"fixed": round(whole - sum(per.values()), 1)}
        out[name].update({k: round(v, 1) for k, v in per.items()})
    return out


def applied(spec: RunSpec, made: Plan) -> RunSpec:
    """The spec with the plan's shortenings in its workload parameters (a user's own
    --param wins over the plan's)."""
    params = {w: {**made.params.get(w, {}), **spec.params.get(w, {})} for w in spec.workloads}
    return dataclasses.replace(spec, params={w: p for w, p in params.items() if p})


#: the reference that only the left-out row needs (the sweep's ceiling)
ONLY_FOR = {"stream/sweep": "stream/raw pipe"}
LEFT_OUT_REASON = "left out to fit the run's time budget (--budget none runs everything)"


def left_out_rows(made: Plan) -> dict[str, str]:
    """What an engine process skips: "workload/variant" -> why (and a reference that only
    a left-out row needs)."""
    rows = {r: LEFT_OUT_REASON for r in made.rows_left_out if "/" in r}
    rows.update({ONLY_FOR[r]: LEFT_OUT_REASON for r in list(rows) if r in ONLY_FOR})
    return rows
