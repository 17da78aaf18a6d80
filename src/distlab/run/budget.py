"""A run planned to a time budget: ``distlab run --budget 5m`` (the main job's default).

Machines of one kind differ in speed by up to 2x, and the main job's cost does not
shrink with the work (engine start-ups, a JVM job per stream). So a run predicts its own
length before anything starts: each engine's cost per workload at the default size, as
measured on a reference machine (:data:`COSTS`, with that machine's speed figure
:data:`REFERENCE_SPEED_S`), scaled by this machine's speed figure (machine_speed, timed
at the run's start) and the size. Where the prediction exceeds the budget, the plan
shortens first what costs the least information, then leaves out the costliest cells,
one engine-workload pair at a time, until it fits; the results record the plan and the
report says what was shortened and left out. A prediction is a model, not a promise:
the plan records it beside what the run then took.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from distlab.contracts import DistlabError
from distlab.run.model import RunSpec

#: the speed figure (machine_speed.measure) of the machine COSTS were measured on
REFERENCE_SPEED_S = 0.209
#: seconds each engine spent at the default size on that machine: "fixed" (start-up,
#: close, its process and imports), then each workload's cells (the stream's variants
#: apart), warm-ups and extra repetitions included (costs_from() makes this from a
#: results file)
COSTS: dict[str, dict[str, float]] = {
    # the single-process references: the raw pipe's search is most of it
    "reference": {"fixed": 3.0, "stream": 11.3},
    "local": {"fixed": 2.0, "squares": 1.5, "numbers": 2.8, "jobs": 4.5, "wordcount": 0.3,
              "gpu_queue": 3.7, "kfold": 3.6, "microscopy": 5.3},
    "ray": {"fixed": 7.6, "squares": 1.5, "numbers": 3.2, "jobs": 4.3, "wordcount": 0.5,
            "gpu_queue": 3.2, "kfold": 4.3, "microscopy": 10.2, "stream/sweep": 17.4,
            "stream/fixed_rate": 1.9, "stream/top_n": 2.1},
    "dask": {"fixed": 3.4, "squares": 1.2, "numbers": 3.1, "jobs": 4.3, "wordcount": 1.3,
             "gpu_queue": 2.6, "kfold": 4.1, "microscopy": 3.8, "stream/sweep": 7.5,
             "stream/fixed_rate": 1.8, "stream/top_n": 1.9},
    "celery": {"fixed": 4.3, "squares": 1.2, "numbers": 4.3, "jobs": 4.5, "wordcount": 0.2,
               "gpu_queue": 2.7, "kfold": 3.9, "microscopy": 3.8},
    "kafka": {"fixed": 6.9, "squares": 1.6, "numbers": 2.4, "jobs": 4.4, "wordcount": 0.5,
              "kfold": 4.3, "microscopy": 4.3, "stream/sweep": 14.7,
              "stream/fixed_rate": 1.9, "stream/top_n": 1.9},
    "scoop": {"fixed": 2.0, "squares": 1.1, "numbers": 2.4, "jobs": 4.2, "wordcount": 0.1,
              "kfold": 3.5, "microscopy": 3.6},
    "spark": {"fixed": 10.2, "squares": 2.4, "numbers": 9.8, "jobs": 5.2, "wordcount": 7.4,
              "kfold": 5.5, "microscopy": 5.1, "stream/sweep": 21.7,
              "stream/fixed_rate": 3.4, "stream/top_n": 4.6},
    "flink": {"fixed": 3.0, "wordcount": 28.4, "stream/sweep": 27.2,
              "stream/fixed_rate": 4.2, "stream/top_n": 3.7},
    "mapreduce": {"fixed": 10.4, "wordcount": 17.9},
}  # fmt: skip
#: the run's own share besides the engines: the stream broker's start, the CLI, the report
RUN_FIXED_S = 7.0
#: what a cell not in COSTS (a user's workload, an engine of a plugin) is taken to cost
UNKNOWN_CELL_S = 5.0
#: the main job's default budget
DEFAULT_BUDGET_S = 300.0
#: how the other sizes compare with the default (tiny: start-ups and per-job costs
#: dominate, about as long; seed: no budget applies by default)
SIZE_FACTOR = {"tiny": 1.0, "default": 1.0, "seed": 1.0}


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
    #: (engine, workload) pairs left out
    left_out: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["left_out"] = [list(p) for p in self.left_out]
        out["reference_speed_s"] = REFERENCE_SPEED_S
        out["summary"] = self.summary()
        return out

    def summary(self) -> str:
        """One line for the terminal and the report."""
        if self.budget_s is None:
            return f"no time budget (predicted {_mmss(self.asked_s)} on this machine)"
        head = (
            f"time budget {_mmss(self.budget_s)}: the run as asked was predicted at "
            f"{_mmss(self.asked_s)} on this machine (speed figure {self.speed_s:.2f} s, the "
            f"costs' machine {REFERENCE_SPEED_S:.2f} s)"
        )
        if not self.shortened and not self.left_out:
            return head + ": nothing shortened"
        parts = list(self.shortened)
        if self.left_out:
            parts.append("left out: " + ", ".join(f"{e}/{w}" for e, w in self.left_out))
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


def _cost_keys(workload: str) -> list[str]:
    return (
        [k for k in ("stream/sweep", "stream/fixed_rate", "stream/top_n")]
        if (workload == "stream")
        else [workload]
    )


def cell_costs(spec: RunSpec) -> dict[tuple[str, str], dict[str, float]]:
    """(engine, workload) -> {variant or '-': seconds on the costs' machine}."""
    out = {}
    for engine in spec.engines:
        if engine == "reference":
            continue
        costs = COSTS.get(engine, {})
        for w in spec.workloads:
            if engine in COSTS and not any(k in costs for k in _cost_keys(w)):
                continue  # the engine does not run it (unsupported): nothing to wait for
            if w == "stream":
                out[(engine, w)] = {
                    k.split("/")[1]: costs.get(k, UNKNOWN_CELL_S / 3) for k in _cost_keys(w)
                }
            else:
                out[(engine, w)] = {"-": costs.get(w, UNKNOWN_CELL_S)}
    return out


def _total(spec: RunSpec, cells: dict[tuple[str, str], dict[str, float]], scale: float) -> float:
    engines = {e for e, _w in cells}
    ref = COSTS["reference"]
    fixed = RUN_FIXED_S + ref["fixed"] + sum(ref.get(w, 0.0) for w in spec.workloads)
    fixed += sum(COSTS.get(e, {}).get("fixed", UNKNOWN_CELL_S) for e in engines)
    return (fixed + sum(sum(v.values()) for v in cells.values())) * scale


def plan(spec: RunSpec, speed_s: float, budget_s: float | None) -> Plan:
    """What to run so that the predicted time fits ``budget_s`` on a machine whose speed
    figure is ``speed_s``."""
    scale = speed_s / REFERENCE_SPEED_S * SIZE_FACTOR.get(spec.size, 1.0)
    cells = cell_costs(spec)
    asked = _total(spec, cells, scale)
    out = Plan(budget_s, speed_s, asked, asked)
    if budget_s is None or asked <= budget_s or spec.size != "default":
        # other sizes have no costs measured: the budget is stated, not planned
        return out
    for step in SHORTENINGS:
        if out.predicted_s <= budget_s:
            break
        if step.workload not in spec.workloads:
            continue
        for (_e, w), variants in cells.items():
            if w == step.workload:
                for variant, keep in step.keeps.items():
                    if variant in variants:
                        variants[variant] *= keep
        out.params.setdefault(step.workload, {}).update(step.params)
        out.shortened.append(step.says)
        out.predicted_s = _total(spec, cells, scale)
    # then the costliest cells, one engine-workload pair at a time
    while out.predicted_s > budget_s and cells:
        pair = max(cells, key=lambda k: sum(cells[k].values()))
        del cells[pair]
        out.left_out.append(pair)
        out.predicted_s = _total(spec, cells, scale)
    return out


def costs_from(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """COSTS as a results file of a default run measured them (to renew the table when the
    workloads or engines change)."""
    timing = (doc.get("timing") or {}).get("engines") or {}
    out: dict[str, dict[str, float]] = {}
    for name, whole in timing.items():
        per: dict[str, float] = {}
        for c in doc.get("cells") or []:
            if c.get("engine") != name:
                continue
            spent = c.get("time_spent") or {}
            seconds = sum(spent.get(k) or 0 for k in ("warmup", "measured", "other"))
            if seconds:
                key = c["workload"] + (f"/{c['variant']}" if c["workload"] == "stream" else "")
                per[key] = per.get(key, 0.0) + seconds
        out[name] = {"fixed": round(whole - sum(per.values()), 1)}
        out[name].update({k: round(v, 1) for k, v in per.items()})
    return out


def applied(spec: RunSpec, made: Plan) -> RunSpec:
    """The spec with the plan's shortenings in its workload parameters (a user's own
    --param wins over the plan's)."""
    params = {w: {**made.params.get(w, {}), **spec.params.get(w, {})} for w in spec.workloads}
    return dataclasses.replace(spec, params={w: p for w, p in params.items() if p})
