"""W7 stream (seeds 000 and 004, "event-driven, real-time"): events at a fixed offered rate
through a filter and a keyed tumbling-window aggregation into a sink.

The stream contract (:class:`StreamSpec`, handed to ``engine.run_stream(spec)``):

* Events are generated deterministically from ``seed``: event ``i`` is
  ``(event_id=i, key, value, event_ms)`` with ``key`` in ``[0, keys)``, ``value`` in
  ``[0, 1000)`` and event time ``event_ms = i * 1000 // rate`` (integer milliseconds from
  the start of the stream). Its INTENDED send time is ``t0 + i / rate``: the driver sends
  each event at that moment (or at once, if it is already late).
* Processing: keep the events with ``value >= filter_min``; every kept event is passed
  through to the sink at once (its arrival there gives its end-to-end latency), and is
  counted into a tumbling event-time window of ``window_ms`` per key, whose result is
  ``(key, window_start_ms, count, sum of values)``.
* ``run_stream`` returns a dict: ``windows`` (list of [key, window_start_ms, count, sum]),
  ``arrivals`` ({event_id: seconds after t0 when the pass-through reached the driver}),
  ``elapsed_s``, ``send_lag_s`` (how far behind schedule the sender fell at worst) and
  ``notes`` (what the engine's source and sink really were).

Latency is measured at the sink against each event's intended send time, so a stalled
pipeline is charged for every event it delayed (no coordinated omission). Window results
are checked exactly against a golden computed here in plain Python.

Variants: ``fixed_rate`` runs the stream once at the size's rate; ``sweep`` runs short
streams at rising rates and reports the highest rate the engine sustained (achieved
throughput >= 95% of the offered rate and p99 latency under ``p99_bound_ms``).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from distlab.contracts import STREAMS, DistlabError, Engine
from distlab.stats import percentiles
from distlab.workloads.base import RunOutput, Workload

#: the most latency samples kept in the results file per run
MAX_SAMPLES = 2000
#: a rate is sustained when at least this share of it was achieved ...
SUSTAINED_SHARE = 0.95


@dataclass(frozen=True)
class StreamSpec:
    """One stream run: what the driver sends and what the engine must compute."""

    n_events: int
    #: offered rate, events per second of intended send time
    rate: float
    window_ms: int = 1000
    keys: int = 8
    #: an event passes the filter when value >= filter_min (values are 0..999)
    filter_min: int = 200
    seed: int = 7
    #: source partitions (Kafka topics); 0 lets the engine choose
    partitions: int = 0
    #: Kafka bootstrap servers for engines that read a topic; None: the engine's own
    #: broker (kafka) or an embedded one it starts
    bootstrap: str | None = None
    #: the whole run (sending, processing, collecting) must end within this
    timeout_s: float = 120.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def events(self) -> list[tuple[int, int, int, int]]:
        """[(event_id, key, value, event_ms)] in send order."""
        rng = random.Random(self.seed)
        rate = self.rate
        return [
            (i, rng.randrange(self.keys), rng.randrange(1000), int(i * 1000 // rate))
            for i in range(self.n_events)
        ]

    def intended_s(self, event_id: int) -> float:
        """Intended send time of an event, seconds after the stream's start."""
        return event_id / self.rate


def golden_windows(events, window_ms: int, filter_min: int) -> dict[tuple[int, int], tuple]:
    """{(key, window_start_ms): (count, sum)} over the events that pass the filter."""
    out: dict[tuple[int, int], list[int]] = {}
    for _eid, key, value, event_ms in events:
        if value < filter_min:
            continue
        slot = out.setdefault((key, event_ms - event_ms % window_ms), [0, 0])
        slot[0] += 1
        slot[1] += value
    return {k: (c, s) for k, (c, s) in out.items()}


def passing_ids(events, filter_min: int) -> list[int]:
    return [eid for eid, _k, value, _t in events if value >= filter_min]


def expected_window_count(events, window_ms: int, filter_min: int) -> int:
    """How many windows the sink will receive (their contents are checked separately)."""
    return len({(k, t - t % window_ms) for _e, k, v, t in events if v >= filter_min})


def downsample(xs: list[float], most: int = MAX_SAMPLES) -> list[float]:
    if len(xs) <= most:
        return list(xs)
    step = len(xs) / most
    return [xs[int(i * step)] for i in range(most)]


class Stream(Workload):
    name = "stream"
    description = "events at a fixed rate through filter + keyed tumbling windows (W7)"
    shape = STREAMS
    sizes = {
        "tiny": {
            "n_events": 2000,
            "rate": 1000,
            "window_ms": 250,
            "keys": 8,
            "sweep_rates": (1000, 4000, 16000),
            "sweep_seconds": 1.0,
            "p99_bound_ms": 1000.0,
        },
        "default": {
            "n_events": 20000,
            "rate": 5000,
            "window_ms": 1000,
            "keys": 16,
            "sweep_rates": (2000, 5000, 10000, 20000, 40000),
            "sweep_seconds": 3.0,
            "p99_bound_ms": 1000.0,
        },
        "seed": {
            "n_events": 200000,
            "rate": 10000,
            "window_ms": 1000,
            "keys": 64,
            "sweep_rates": (5000, 10000, 20000, 40000, 80000),
            "sweep_seconds": 10.0,
            "p99_bound_ms": 1000.0,
        },
    }
    reference_repeats = 1

    def spec(self, rate: float | None = None, n_events: int | None = None) -> StreamSpec:
        p = self.params
        return StreamSpec(
            n_events=int(n_events or p["n_events"]),
            rate=float(rate or p["rate"]),
            window_ms=int(p["window_ms"]),
            keys=int(p["keys"]),
            filter_min=int(p.get("filter_min", 200)),
            seed=int(p.get("seed", 7)),
            partitions=int(p.get("partitions", 0)),
            bootstrap=p.get("bootstrap"),
            timeout_s=float(p.get("timeout_s", 120.0)),
        )

    def variants(self, engine: Engine) -> list[str]:
        return ["fixed_rate", "sweep"]

    # -- the golden ---------------------------------------------------------------------
    def reference(self) -> dict[tuple[float, int], dict]:
        spec = self.spec()
        return {(spec.rate, spec.n_events): self._golden_for(spec)}

    def _golden_for(self, spec: StreamSpec) -> dict:
        return golden_windows(spec.events(), spec.window_ms, spec.filter_min)

    # -- a run --------------------------------------------------------------------------
    def run(self, engine: Engine, variant: str) -> RunOutput:
        run_stream = getattr(engine, "run_stream", None)
        if run_stream is None:
            raise DistlabError(f"{engine.name} has no run_stream()")
        if variant == "sweep":
            return self._sweep(engine)
        spec = self.spec()
        point = self._measure(engine, spec)
        return RunOutput(
            {(spec.rate, spec.n_events): point.pop("windows")},
            n_tasks=spec.n_events,
            lost=point["lost"],
            metrics=point,
        )

    def _measure(self, engine: Engine, spec: StreamSpec) -> dict[str, Any]:
        """Run one stream and turn the raw arrivals into figures."""
        raw = engine.run_stream(spec)
        events = spec.events()
        expected = passing_ids(events, spec.filter_min)
        arrivals: dict[int, float] = raw["arrivals"]
        latencies = sorted(
            (arrivals[eid] - spec.intended_s(eid)) * 1e3 for eid in expected if eid in arrivals
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
        windows = {(int(k), int(w)): (int(c), int(s)) for k, w, c, s in raw["windows"]}
        lat = percentiles(latencies, (50, 99, 99.9))
        return {
            "windows": windows,
            "offered_rate": spec.rate,
            "throughput_eps": round(achieved, 1),
            "latency_ms": {k: (round(v, 3) if v is not None else None) for k, v in lat.items()},
            "latency_samples_ms": [round(x, 3) for x in downsample(latencies)],
            "windows_checked": len(windows),
            "events": spec.n_events,
            "passed_filter": len(expected),
            "lost": len(expected) - len(got),
            "elapsed_s": round(raw.get("elapsed_s", 0.0), 3),
            "send_lag_s": round(raw.get("send_lag_s", 0.0), 4),
            "notes": raw.get("notes", ""),
        }

    def _sustained(self, point: dict) -> bool:
        p99 = point["latency_ms"].get("p99")
        return (
            point["lost"] == 0
            and point["throughput_eps"] >= SUSTAINED_SHARE * point["offered_rate"]
            and p99 is not None
            and p99 < float(self.params["p99_bound_ms"])
        )

    def _sweep(self, engine: Engine) -> RunOutput:
        points, result = [], {}
        best = None
        for rate in self.params["sweep_rates"]:
            spec = self.spec(rate=rate, n_events=int(rate * float(self.params["sweep_seconds"])))
            point = self._measure(engine, spec)
            result[(spec.rate, spec.n_events)] = point.pop("windows")
            point.pop("latency_samples_ms")
            point["sustained"] = self._sustained(point)
            points.append(point)
            if not point["sustained"]:
                break  # higher rates would only fall further behind
            best = spec.rate
        return RunOutput(
            result,
            n_tasks=sum(p["events"] for p in points),
            lost=sum(p["lost"] for p in points),
            metrics={
                "max_sustained_rate": best,
                "sustained_rule": (
                    f"throughput >= {SUSTAINED_SHARE:.0%} of offered, "
                    f"p99 < {self.params['p99_bound_ms']:g} ms, nothing lost"
                ),
                "sweep": points,
                "windows_checked": sum(p["windows_checked"] for p in points),
            },
        )

    def verify(self, output: RunOutput) -> tuple[bool, str]:
        result = output.result
        if not isinstance(result, dict) or not result:
            return False, "no window results"
        checked = 0
        # keyed by (offered rate, events): each stream's golden is computed afresh
        for (rate, n_events), windows in result.items():
            spec = self.spec(rate=rate, n_events=n_events)
            want = self._golden_for(spec)
            if windows != want:
                missing = len(set(want) - set(windows))
                extra = len(set(windows) - set(want))
                wrong = sum(1 for k in set(want) & set(windows) if want[k] != windows[k])
                return False, (
                    f"at {rate:g} events/s: {missing} windows missing, {extra} extra, "
                    f"{wrong} with wrong count/sum (of {len(want)})"
                )
            checked += len(want)
        if output.lost:
            return False, f"{output.lost} pass-through events never reached the sink"
        return True, f"all {checked} windows equal to the golden (count and sum per key)"


def send_paced(spec: StreamSpec, send, t0: float) -> float:
    """Call ``send(i, line)`` for every event at its intended time ``t0 + i / rate``
    (perf_counter clock; at once when already late) with the event as a CSV line
    ``event_id,key,value,event_ms``; return the worst lag behind schedule in seconds."""
    import time

    worst = 0.0
    for i, (eid, key, value, event_ms) in enumerate(spec.events()):
        intended = t0 + i / spec.rate
        now = time.perf_counter()
        if now < intended:
            if intended - now > 0.0005:
                time.sleep(intended - now)
        else:
            worst = max(worst, now - intended)
        send(i, f"{eid},{key},{value},{event_ms}")
    return worst


def end_marker(spec: StreamSpec) -> str:
    """A line after the last event: event time two windows past it (it moves watermarks
    past every window), a value the filter drops, id -1."""
    events = spec.events()
    return f"-1,-1,0,{(events[-1][3] if events else 0) + 2 * spec.window_ms}"
