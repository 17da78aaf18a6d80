"""A stream's figures and its exact check, from what its sinks received (a StreamResult):
latency from intended send times, throughput, losses, and each window or top-N row
against the golden. Shared by the stream workload and the rate search."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from distlab.contracts.streams import FINAL, StreamSpec, emission_problem, final_windows
from distlab.stats import percentiles

#: the most latency samples kept in the results file per run
MAX_SAMPLES = 2000
#: a rate is sustained when at least this share of it was achieved ...
SUSTAINED_SHARE = 0.95


def downsample(xs: list[float], most: int = MAX_SAMPLES) -> list[float]:
    if len(xs) <= most:
        return list(xs)
    step = len(xs) / most
    return [xs[int(i * step)] for i in range(most)]


def stream_figures(
    spec: StreamSpec, raw, expected: list[int], warmup_s: float = 0.0
) -> dict[str, Any]:
    """One stream's figures from what its sinks received: latency of every ``expected``
    id against its intended send time (those due in the first ``warmup_s`` seconds left
    out), throughput, losses, the window emissions (as ``sink``, for the check)."""
    arrivals: dict[int, float] = raw.arrivals
    # ids that reached the sink but should not have: filtered out, or never sent
    unexpected = sorted(set(arrivals) - set(expected))
    latencies = sorted(
        (arrivals[eid] - spec.intended_s(eid)) * 1e3
        for eid in expected
        if eid in arrivals and spec.intended_s(eid) >= warmup_s
    )
    got = [arrivals[eid] for eid in expected if eid in arrivals]
    # Throughput: events handled per second between the first and the last arrival
    # at the sink, measured against the same span of intended send times.
    if len(got) >= 2 and max(got) > min(got):
        first, last = expected[0], expected[-1]
        intended_span = spec.intended_s(last) - spec.intended_s(first)
        achieved = spec.rate * intended_span / (max(got) - min(got))
    else:
        achieved = 0.0
    achieved = min(achieved, spec.rate * 10)  # a burst at the end cannot beat arrival
    emissions = [(int(k), int(w), int(c), int(s)) for k, w, c, s in raw.windows]
    lat = percentiles(latencies, (50, 99, 99.9))
    return {
        "sink": SinkOutput(emissions, raw.window_updates, unexpected),
        "offered_rate": spec.rate,
        "throughput_eps": round(achieved, 1),
        "latency_ms": {k: (round(v, 3) if v is not None else None) for k, v in lat.items()},
        "latency_samples_ms": [round(x, 3) for x in downsample(latencies)],
        "windows_checked": len({(k, w) for k, w, _c, _s in emissions}),
        "window_emissions": len(emissions),
        "window_updates": raw.window_updates,
        "events": spec.n_events,
        "passed_filter": len(expected),
        "lost": len(expected) - len(got),
        "duplicate_arrivals": raw.duplicate_arrivals,
        "unexpected_arrivals": len(unexpected),
        "elapsed_s": round(raw.elapsed_s, 3),
        "send_lag_s": round(raw.send_lag_s, 4),
        "sender_nice": raw.sender_nice,
        "notes": raw.notes,
        "engine_settings": raw.settings,
    }


def pooled_trials(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Independent trials of one stream as one figure: each percentile the median of the
    trials' (their min and max beside it: the spread across trials), throughput likewise,
    losses and duplicates summed, and each trial's own figures kept. A percentile is firm
    only where every trial had 100 events or more beyond its p99 (``p99_held``)."""
    if len(trials) == 1:
        return {**trials[0], "trials": 1}
    out = dict(trials[-1])
    latency, spread = {}, {}
    for key in trials[0]["latency_ms"]:
        values = [t["latency_ms"].get(key) for t in trials]
        if any(v is None for v in values):
            latency[key], spread[key] = None, None
            continue
        latency[key] = statistics.median(values)
        spread[key] = [min(values), max(values)]
    out.update(
        latency_ms=latency,
        latency_spread_ms=spread,
        throughput_eps=statistics.median(t["throughput_eps"] for t in trials),
        latency_samples_ms=sorted(
            downsample(sorted(x for t in trials for x in t["latency_samples_ms"]))
        ),
        lost=sum(t["lost"] for t in trials),
        duplicate_arrivals=sum(t["duplicate_arrivals"] for t in trials),
        unexpected_arrivals=sum(t["unexpected_arrivals"] for t in trials),
        trials=len(trials),
        per_trial=[
            {k: t[k] for k in ("latency_ms", "throughput_eps", "lost", "elapsed_s", "send_lag_s")}
            for t in trials
        ],
    )
    return out


def p99_held(metrics: dict[str, Any]) -> bool:
    """Whether every trial's p99 rests on 100 events or more beyond it."""
    return metrics.get("passed_filter", 0) >= 10_000


def sustained(point: dict, p99_bound_ms: float) -> bool:
    """The sweep's rule: nothing lost, throughput >= SUSTAINED_SHARE of the offered rate,
    p99 under the bound."""
    p99 = point["latency_ms"].get("p99")
    return (
        point["lost"] == 0
        and point["throughput_eps"] >= SUSTAINED_SHARE * point["offered_rate"]
        and p99 is not None
        and p99 < p99_bound_ms
    )


@dataclass
class SinkOutput:
    """What one stream's sinks received, as the check needs it: the window emissions in
    order (repeats included) and what they mean, and the ids that arrived but should not
    have."""

    windows: list[tuple[int, int, int, int]]
    window_updates: str = FINAL
    unexpected_ids: list[int] = field(default_factory=list)


def check_sink(sink: SinkOutput, want: dict) -> str | None:
    """Why a stream's sink output is wrong (None: it is right). Every (key, window) must
    be emitted exactly once with the golden count and sum; in update mode
    (``last-is-final``) each emission must be a later running total than the one before
    (its count grows) and the last one is checked. No id that should have been filtered
    out (or was never sent) may have arrived."""
    problem = emission_problem(sink.windows, sink.window_updates)
    if problem:
        return problem
    final = final_windows(sink.windows)
    if final != want:
        missing = len(set(want) - set(final))
        extra = len(set(final) - set(want))
        wrong = sum(1 for k in set(want) & set(final) if want[k] != final[k])
        return (
            f"{missing} windows missing, {extra} extra, {wrong} with wrong count/sum "
            f"(of {len(want)})"
        )
    if sink.unexpected_ids:
        ids = sink.unexpected_ids
        return (
            f"{len(ids)} event ids reached the pass-through sink that should not have "
            f"(filtered out or never sent), e.g. {ids[:5]}"
        )
    return None
