"""A stream's highest sustained rate, found by search: the full search of ``distlab bench
streams`` and the shorter one of the stream workload's ``sweep`` variant in the main job
are the same code with different plans.

A point runs the query at one offered rate for ``warmup_s + seconds`` of intended send
time; its latency percentiles leave the warm-up out and are taken against intended send
times (no coordinated omission), and its results are checked exactly against the golden
at every point. A point is sustained when nothing was lost, throughput reached 95% of the
offered rate and p99 stayed under the bound; it is invalid (the load generator's limit,
not the engine's) when the sender fell behind: more than SENDER_LATE_LIMIT of its events
sent over 5 ms behind their intended times, or its last event more than
SENDER_LAST_LAG_SHARE of the stream's span behind (a sender too slow for the rate falls
further behind with every event; a scheduling hiccup of a few milliseconds on a busy
2-core machine delays a burst of events and is over; such delays are charged to the
engine's latency, and the worst lag is shown).

Before the search, a throw-away stream at the first rate warms the engine up (its first
job, JIT compilation, connections): without it the first point measures start-up.

The search multiplies the rate by ``growth`` (2: doubling) from ``start_rate`` until a
point is not sustained (or the sender cannot keep up, twice in a row at that rate, or
``max_rate``), then bisects between the last sustained rate and the first failed one until
they are within ``precision`` of each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from distlab.contracts import StreamResult, StreamSpec
from distlab.contracts.pacing import LATE_S
from distlab.contracts.streams import golden, passing_ids
from distlab.workloads.stream_check import check_sink, stream_figures, sustained

#: a point whose sender sent more than this share of events late measures the sender ...
SENDER_LATE_LIMIT = 0.05
#: ... and so does one whose last event was sent later than this share of the span
SENDER_LAST_LAG_SHARE = 0.01
#: below this rate the search stops looking for a sustained one
LOWEST_RATE = 100.0
#: the throw-away stream on a cold engine, seconds at the first rate: it pays the
#: engine's first job (a point's own warm-up seconds are left out of its figures anyway)
THROW_AWAY_S = 1.0


@dataclass(frozen=True)
class SearchPlan:
    """How long each point runs and how the rate is searched."""

    seconds: float = 5.0
    warmup_s: float = 1.0
    start_rate: float = 2000.0
    max_rate: float = 512_000.0
    precision: float = 0.10
    p99_bound_ms: float = 1000.0
    #: the factor between the first points (2: doubling; the main job's shorter search
    #: takes bigger steps)
    growth: float = 2.0
    #: measure the highest sustained rate once more before it stands
    confirm: bool = True

    def n_events(self, rate: float) -> int:
        return max(1, int(rate * (self.seconds + self.warmup_s)))

    def throw_away_events(self) -> int:
        return max(1, int(self.start_rate * THROW_AWAY_S))

    def describe(self) -> str:
        steps = "doubling" if self.growth == 2 else f"x{self.growth:g} steps"
        return (
            f"search: {steps} from {self.start_rate:,.0f} events/s (at most "
            f"{self.max_rate:,.0f}), then bisection to within {self.precision:.0%}; "
            f"{self.seconds:g} s per point after {self.warmup_s:g} s warm-up"
            + ("; the highest sustained rate measured once more" if self.confirm else "")
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def measure_point(
    run_stream: Callable[[StreamSpec], StreamResult],
    spec: StreamSpec,
    plan: SearchPlan,
    raw_pipe: bool = False,
) -> tuple[dict[str, Any], Any]:
    """One stream: its figures (whether it was sustained, valid and exact) and what its
    sinks received (a SinkOutput). The raw pipe copies every event and computes nothing:
    only its losses are checked."""
    raw = run_stream(spec)
    events = spec.events()
    expected = [e[0] for e in events] if raw_pipe else passing_ids(events, spec.filter_min)
    point = stream_figures(spec, raw, expected, warmup_s=plan.warmup_s)
    sink = point.pop("sink")
    point.pop("latency_samples_ms")
    if raw_pipe:
        problem = None if not point["lost"] else f"{point['lost']} events never arrived"
    else:
        problem = check_sink(sink, golden(spec))
    point["verified"] = problem is None
    if problem:
        point["problem"] = problem
    point["send_lag_ms"] = round(raw.send_lag_s * 1e3, 2)
    point["sent_late_share"] = round(raw.send_late_share, 4)
    point["send_last_lag_ms"] = round(raw.send_last_lag_s * 1e3, 2)
    span_s = spec.n_events / spec.rate
    point["valid"] = raw.send_late_share <= SENDER_LATE_LIMIT and raw.send_last_lag_s <= max(
        LATE_S, SENDER_LAST_LAG_SHARE * span_s
    )
    point["sustained"] = (
        point["valid"] and point["verified"] and sustained(point, plan.p99_bound_ms)
    )
    return point, sink


def search(
    measure: Callable[[float], dict[str, Any]],
    plan: SearchPlan,
    warm: bool = False,
    throw_away: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """The highest sustained rate (steps of ``growth``, then bisection to ``precision``).
    ``warm``: the engine has just run streams of its own (the same processes, nothing
    restarted since), so the throw-away stream is not needed; ``throw_away``: the stream
    that warms it up otherwise (default: a point's length at the first rate; the
    workload's is THROW_AWAY_S long)."""
    points: list[dict[str, Any]] = []

    def at(rate: float) -> dict[str, Any]:
        point = measure(rate)
        if not point["valid"]:
            # a sender that fell behind once may have met a burst of other work on the
            # machine: measured once more, and that second point stands
            point = {**measure(rate), "remeasured": True}
        points.append(point)
        return point

    good, bad, rate = None, None, float(plan.start_rate)
    if not warm:
        (throw_away or (lambda: measure(rate)))()  # the warm-up stream: not a point
    while True:
        point = at(rate)
        if point["sustained"]:
            good = rate
            if rate >= plan.max_rate:
                break
            rate = min(rate * plan.growth, plan.max_rate)  # the last step ends at the max
        elif good is None and point["valid"] and rate / plan.growth >= LOWEST_RATE:
            rate /= plan.growth  # not even the first rate: look lower
        else:
            bad = rate
            break
    while good is not None and bad is not None and (bad - good) / good > plan.precision:
        mid = round((good + bad) / 2)
        if at(mid)["sustained"]:
            good = mid
        else:
            bad = mid  # an invalid point too: nothing above the sender's limit is measured
    confirmed = None
    if good is not None and plan.confirm:
        # the highest sustained rate measured once more: a rate that holds only once is
        # not the engine's, and the bracket drops below it
        again = {**measure(good), "confirming": True}
        points.append(again)
        confirmed = bool(again["sustained"])
        if not confirmed:
            bad = good
            below = [
                pt["offered_rate"] for pt in points if pt["sustained"] and pt["offered_rate"] < good
            ]
            good = max(below) if below else None
    best = next((pt for pt in points if good is not None and pt["offered_rate"] == good), None)
    return {
        "best_rate": good,
        "confirmed": confirmed,
        "first_failed_rate": bad,
        "at_best": best,
        "points": sorted(points, key=lambda pt: pt["offered_rate"]),
        "all_verified": all(pt["verified"] for pt in points),
        "sender_limited": any(not pt["valid"] for pt in points),
        "plan": plan.to_dict(),
        "warm_up": "the streams just before it" if warm else "a stream at the first rate",
    }


def search_raw_pipe(plan: SearchPlan, make_spec: Callable[[float, int], StreamSpec]) -> dict:
    """The raw pipe's search on one embedded broker for every point (or on the specs'
    bootstrap servers): the ceiling of every stream figure."""
    from distlab.services.kafka.broker import KafkaBroker
    from distlab.services.kafka.pipe import run_raw_pipe

    own_broker = make_spec(plan.start_rate, 1).bootstrap is None
    with KafkaBroker() if own_broker else contextlib.nullcontext() as broker:

        def measure(rate: float) -> dict[str, Any]:
            spec = make_spec(rate, plan.n_events(rate))
            if broker is not None:
                spec = dataclasses.replace(spec, bootstrap=broker.bootstrap)
            return measure_point(run_raw_pipe, spec, plan, raw_pipe=True)[0]

        def throw_away() -> None:
            spec = make_spec(plan.start_rate, plan.throw_away_events())
            if broker is not None:
                spec = dataclasses.replace(spec, bootstrap=broker.bootstrap)
            run_raw_pipe(spec)

        return search(measure, plan, throw_away=throw_away)
