"""Plain facts from a results document: what each engine measured beside its time.

Start-up time, latency percentiles, throughput and peak memory are listed per piece of
work, best first; unlike the verdicts of ``distlab.report.recommend`` they claim no
statistical separation, so they need no repetitions. ``Finding`` is the record every
derived statement (fact, verdict or caveat) is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.report.figures import (
    by_work,
    fmt_s,
    label,
    latency_ms,
    measured,
    throughput_per_s,
)


@dataclass
class Finding:
    """One derived statement with the figures behind it."""

    kind: str  # winner, tie, tentative, shape, numpy, no_gain, granularity, unstable, failed, ...
    text: str
    workload: str | None = None
    variant: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def startup_findings(doc: dict) -> list[Finding]:
    engines = {
        n: e
        for n, e in doc.engines.items()
        if e.startup_s is not None and e.status == "ok"
    }
    if not engines:
        return []
    out = []
    order = sorted(engines, key=lambda n: engines[n].startup_s)
    listing = ", ".join(f"{n} {fmt_s(engines[n].startup_s)}" for n in order)
    out.append(Finding("startup", f"Start-up time: {listing}.", figures={"order": order}))
    for name in order:
        total = sum(
            (c.wall_s or 0.0) for c in doc.cells if c.engine == name
        )
        start = engines[name].startup_s
        if total and start > total:
            out.append(
                Finding(
                    "startup",
                    f"{name}: starting the engine ({fmt_s(start)}) took longer than one "
                    f"repetition of all its workloads together ({fmt_s(total)}): for work "
                    "this short, keep a cluster running or use a lighter engine.",
                    figures={"engine": name, "startup_s": start, "work_s": total},
                )
            )
    return out


def latency_findings(doc: dict) -> list[Finding]:
    rows = [c for c in measured(doc) if isinstance(latency_ms(c).get("p99"), int | float)]
    out = []
    for (workload, variant), cells in by_work(rows).items():
        order = sorted(cells, key=lambda c: latency_ms(c)["p99"])
        listing = ", ".join(
            f"{c.engine} p50 {_ms(c, 'p50')} / p99 {_ms(c, 'p99')}" for c in order
        )
        out.append(
            Finding(
                "latency",
                f"{label(order[0])}: lowest p99 latency {order[0].engine}; {listing}.",
                workload,
                variant,
            )
        )
    return out


def memory_findings(doc: dict) -> list[Finding]:
    rows = [c for c in measured(doc) if isinstance(c.peak_mem_mb, int | float)]
    out = []
    for (workload, variant), cells in by_work(rows).items():
        if len({c.engine for c in cells}) < 2:
            continue
        order = sorted(cells, key=lambda c: c.peak_mem_mb)
        listing = ", ".join(f"{c.engine} {c.peak_mem_mb:.0f} MB" for c in order)
        out.append(
            Finding(
                "memory",
                f"{label(order[0])}: least peak memory {order[0].engine}; {listing}.",
                workload,
                variant,
            )
        )
    return out


def _ms(cell: dict, percentile: str) -> str:
    value = latency_ms(cell).get(percentile)
    return "-" if value is None else f"{value:.1f} ms"


def throughput_findings(doc: dict) -> list[Finding]:
    rows = [c for c in measured(doc) if throughput_per_s(c) is not None]
    out = []
    for (workload, variant), cells in by_work(rows).items():
        order = sorted(cells, key=lambda c: -throughput_per_s(c))
        listing = ", ".join(f"{c.engine} {throughput_per_s(c):,.0f}/s" for c in order)
        out.append(
            Finding(
                "throughput",
                f"{label(order[0])}: highest throughput {order[0].engine}; {listing}.",
                workload,
                variant,
            )
        )
    return out
