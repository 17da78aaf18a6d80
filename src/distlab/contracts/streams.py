"""The streams contract: events at a fixed offered rate through a filter and keyed
tumbling windows into a sink, measured at the sink.

An engine implements ``run_stream(spec: StreamSpec) -> StreamResult``:

* Events are generated deterministically from ``spec.seed``: event ``i`` is
  ``(event_id=i, key, value, event_ms)`` with ``key`` in ``[0, keys)``, ``value`` in
  ``[0, 1000)`` and event time ``event_ms = i * 1000 // rate`` (integer milliseconds from
  the start of the stream). Its INTENDED send time is ``t0 + i / rate``: the driver sends
  each event then (:func:`send_paced`), or at once if already late.
* Processing: keep the events with ``value >= filter_min``; every kept event passes
  through to the sink at once (its arrival there gives its end-to-end latency) and is
  aggregated by ``spec.query``:

  - ``windows`` (WINDOWS): counted into a tumbling event-time window of ``window_ms``
    per key, whose result row is ``(key, window_start_ms, count, sum of values)``;
  - ``top_n`` (TOP_N, the shape of Nexmark's "hot items" query): summed per key over
    sliding event-time windows ``window_ms`` long that start every ``window_ms // 2``;
    each window's result is its ``top_n`` keys by sum (ties: the smaller key first), one
    row per key ``(key, window_end_ms, rank, sum of values)`` (rank 1 is the largest
    sum). A window is identified by its end, which is never negative.
* The engine returns every window emission in the order its sink received them (never
  a de-duplicated dict: a window emitted twice must show twice) and the first arrival
  time of every event id that reached the pass-through sink (seconds after ``t0``; ids
  that should have been filtered out included: the workload checks them), with how many
  arrivals were repeats, in a :class:`StreamResult`, with what its source and sink really
  were and the settings that shaped the figures.
* ``window_updates`` declares what a window emission is: ``"final"`` (each window is
  emitted once, when it closes) or ``"last-is-final"`` (update mode, Spark's: every
  emission is the window's running total, the last one is its final value).

The golden helpers here compute what the sink must receive, in plain Python.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

from distlab.contracts.lifecycle import STREAMS, Engine
from distlab.contracts.pacing import Pacer

#: the event id of the end marker (see :func:`end_marker`)
END_ID = -1

#: StreamResult.window_updates: each window is emitted exactly once, when it closes
FINAL = "final"
#: StreamResult.window_updates: each emission is a running total, the last one is final
LAST_IS_FINAL = "last-is-final"
WINDOW_UPDATES = (FINAL, LAST_IS_FINAL)

#: StreamSpec.query: keyed tumbling windows (count and sum per key and window)
WINDOWS = "windows"
#: StreamSpec.query: the top keys by sum over sliding windows
TOP_N = "top_n"
QUERIES = (WINDOWS, TOP_N)

Event = tuple[int, int, int, int]  # (event_id, key, value, event_ms)


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
    #: what is aggregated after the filter: WINDOWS or TOP_N (see the module's text)
    query: str = WINDOWS
    #: TOP_N: how many keys each sliding window ranks
    top_n: int = 3

    @property
    def slide_ms(self) -> int:
        """TOP_N: a sliding window starts every ``slide_ms`` (half its length)."""
        return self.window_ms // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def events(self) -> tuple[Event, ...]:
        """[(event_id, key, value, event_ms)] in send order (computed once per spec, so
        that a sender whose clock already runs does not spend it generating events)."""
        return _events(self)

    def intended_s(self, event_id: int) -> float:
        """Intended send time of an event, seconds after the stream's start."""
        return event_id / self.rate


@functools.lru_cache(maxsize=2)
def _events(spec: StreamSpec) -> tuple[Event, ...]:
    rng = random.Random(spec.seed)
    return tuple(
        (i, rng.randrange(spec.keys), rng.randrange(1000), int(i * 1000 // spec.rate))
        for i in range(spec.n_events)
    )


@functools.lru_cache(maxsize=2)
def payloads(spec: StreamSpec) -> tuple[bytes, ...]:
    """Every event's line (encode_event) as the bytes a source carries, in send order."""
    return tuple(encode_event(e).encode() for e in spec.events())


@dataclass
class StreamResult:
    """What an engine's ``run_stream`` saw at its sink."""

    #: every window emission in the order received, repeats included:
    #: (key, window_start_ms, count, sum)
    windows: list[tuple[int, int, int, int]]
    #: event id -> seconds after the stream's t0 when its pass-through FIRST reached the
    #: driver; every id that arrived, also ids that should have been filtered out
    arrivals: dict[int, float]
    #: from the first send to the last sink result
    elapsed_s: float
    #: how far behind schedule the sender fell at worst
    send_lag_s: float
    #: what the engine's source, processing and sinks really were
    notes: str = ""
    #: engine settings that shaped the figures (trigger intervals, parallelism, ...)
    settings: dict[str, Any] = field(default_factory=dict)
    #: pass-through arrivals of an id that had arrived before (not in ``arrivals`` again)
    duplicate_arrivals: int = 0
    #: what a window emission is: FINAL (emitted once) or LAST_IS_FINAL (update mode)
    window_updates: str = FINAL
    #: the share of events the sender sent more than pacing.LATE_S behind their time
    send_late_share: float = 0.0
    #: how far behind its time the last event was sent (a sender that kept up: ~0)
    send_last_lag_s: float = 0.0
    #: the sender process's scheduling priority (negative: ahead of the engine)
    sender_nice: int = 0


class StreamEngine(Engine):
    """An engine that runs the stream workload: implement ``run_stream``."""

    contract_shape: ClassVar[str] = STREAMS
    #: True: its streams go through the Kafka it runs or was pointed at (the kafka
    #: engine); False: through ``spec.bootstrap``, or a broker started for each stream
    own_kafka: ClassVar[bool] = False

    def run_stream(self, spec: StreamSpec) -> StreamResult:
        raise NotImplementedError


# -- golden helpers ----------------------------------------------------------------------
def golden(spec: StreamSpec) -> dict[tuple[int, int], tuple[int, int]]:
    """The rows the sink must end with for the spec's query, as ``{(key, window): (a, b)}``:
    WINDOWS ``(key, window_start_ms): (count, sum)``, TOP_N ``(key, window_end_ms):
    (rank, sum)``."""
    if spec.query == TOP_N:
        return golden_top_n(spec.events(), spec.window_ms, spec.filter_min, spec.top_n)
    return golden_windows(spec.events(), spec.window_ms, spec.filter_min)


def golden_top_n(
    events, window_ms: int, filter_min: int, top_n: int
) -> dict[tuple[int, int], tuple[int, int]]:
    """{(key, window_end_ms): (rank, sum)}: each sliding window's ``top_n`` keys by sum
    of the values that pass the filter (windows ``window_ms`` long, one ending every
    ``window_ms // 2``; ties: the smaller key first)."""
    slide = window_ms // 2
    sums: dict[int, dict[int, int]] = {}  # window end -> key -> sum
    for _eid, key, value, event_ms in events:
        if value < filter_min:
            continue
        # the windows [end - window_ms, end) holding event_ms: the ends in (t, t + window_ms]
        first_end = event_ms - event_ms % slide + slide
        for end in range(first_end, event_ms + window_ms + 1, slide):
            per_key = sums.setdefault(end, {})
            per_key[key] = per_key.get(key, 0) + value
    return {
        (key, end): (rank, total)
        for end, per_key in sums.items()
        for rank, (key, total) in enumerate(ranked(per_key, top_n), start=1)
    }


def ranked(sums: dict[int, int], top_n: int) -> list[tuple[int, int]]:
    """The ``top_n`` (key, sum) pairs by sum, the smaller key first on a tie."""
    return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]


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


def _per_window(windows) -> dict[tuple[int, int], list[tuple[int, int]]]:
    per: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for k, w, c, s in windows:
        per.setdefault((int(k), int(w)), []).append((int(c), int(s)))
    return per


def final_windows(windows) -> dict[tuple[int, int], tuple[int, int]]:
    """{(key, window_start_ms): (count, sum)} from emissions in order: the last one per
    window (the only one when each is emitted once)."""
    return {kw: values[-1] for kw, values in _per_window(windows).items()}


def emission_problem(windows, window_updates: str) -> str | None:
    """Why these window emissions break their declared ``window_updates`` (None: they do
    not). FINAL: every (key, window) emitted exactly once. LAST_IS_FINAL: each emission of
    a window is a later running total than the one before (its count grows), so a
    repeated or out-of-order emission is caught there too."""
    per = _per_window(windows)
    if window_updates == FINAL:
        repeated = {kw: v for kw, v in per.items() if len(v) > 1}
        if repeated:
            (k, w), values = next(iter(repeated.items()))
            return (
                f"{len(repeated)} windows emitted more than once (each must be emitted "
                f"exactly once), e.g. key {k} window {w}: {len(values)} times {values[:3]}"
            )
    elif window_updates == LAST_IS_FINAL:
        stale = {kw: v for kw, v in per.items() if any(b[0] <= a[0] for a, b in pairwise(v))}
        if stale:
            (k, w), values = next(iter(stale.items()))
            return (
                f"{len(stale)} windows with an update that is no later running total "
                f"(a repeated or out-of-order emission), e.g. key {k} window {w}: {values[:4]}"
            )
    else:
        return f"unknown window_updates {window_updates!r} (expected one of {WINDOW_UPDATES})"
    return None


def passing_ids(events, filter_min: int) -> list[int]:
    return [eid for eid, _k, value, _t in events if value >= filter_min]


def expected_window_count(events, window_ms: int, filter_min: int) -> int:
    """How many windows the sink will receive (their contents are checked separately)."""
    return len({(k, t - t % window_ms) for _e, k, v, t in events if v >= filter_min})


def expected_counts(spec: StreamSpec) -> tuple[int, int]:
    """(pass-through events, distinct result rows) the sink will receive."""
    events = spec.events()
    rows = (
        len(golden(spec))
        if spec.query == TOP_N
        else expected_window_count(events, spec.window_ms, spec.filter_min)
    )
    return len(passing_ids(events, spec.filter_min)), rows


def encode_event(event: Event) -> str:
    """An event as the CSV line every source carries: ``event_id,key,value,event_ms``."""
    return "{},{},{},{}".format(*event)


def end_marker(spec: StreamSpec) -> str:
    """A line after the last event: event time two windows past it (it moves watermarks
    past every window), a value the filter drops, id -1."""
    events = spec.events()
    return f"{END_ID},-1,0,{(events[-1][3] if events else 0) + 2 * spec.window_ms}"


def send_paced(
    spec: StreamSpec,
    send_run: Callable[[int, int], None],
    on_start: Callable[[float], None] | None = None,
    idle: Callable[[], None] | None = None,
) -> Pacer:
    """Send every event at its intended time ``t0 + i / rate``, never earlier (at once
    when already late): ``send_run(i, j)`` sends events ``i..j-1``, all due by then (a
    run, not a wake-up per event: at 100,000 events/s one is due every 10 us). ``idle()``
    is called before a longer sleep. The events are generated first (``spec.events()``,
    :func:`payloads`), then the clock starts: ``t0`` (perf_counter) is handed to
    ``on_start`` before the first send. Return the pacer: its ``worst_lag_s`` behind
    schedule and the ``late_share`` of events sent late."""
    n = spec.n_events
    spec.events(), payloads(spec)
    t0 = time.perf_counter()
    if on_start is not None:
        on_start(t0)
    pacer = Pacer.at_rate(spec.rate, t0=t0, idle=idle)
    i = 0
    while i < n:
        j = pacer.wait_run(i, n)
        send_run(i, j)
        i = j
    return pacer
