"""The stream workload as a Bytewax dataflow, written as a Bytewax user writes it: its
Kafka input and output operators, ``filter``/``map``, and its event-time windowing
operators (``fold_window`` with an ``EventClock``). ``python -m bytewax.run`` loads
``build()``, which reads what to do from the environment (:data:`CONF_VAR`, set by the
engine: the bootstrap, the topics, the spec).

* Every event that passes the filter goes to the events sink at once, its line as read
  (the driver's warm-up probes too: they say the dataflow reads and writes).
* Event time is the event's own ``event_ms`` and the watermark moves with events only
  (the clock's "now" is frozen): each key's events come from one source partition, in
  order, so no wait is needed and none is late. The end marker of partition ``p`` becomes
  one end item for every key of ``p``, which closes that key's last windows.
* WINDOWS: ``fold_window`` per key over tumbling windows: ``key,start,count,sum``.
* TOP_N: the sums per key over the sliding windows are folded per source partition (a
  key lives in one partition, so each partition's sums are final); a second, stateful
  step takes every partition's windows and ranks a window once every partition has closed
  it: ``key,end,rank,sum``. Each partition's end becomes two end items, a window apart,
  so every partition closes a window past the last real one.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.connectors.kafka import KafkaSinkMessage
from bytewax.connectors.kafka import operators as kop
from bytewax.dataflow import Dataflow

from distlab.contracts.streams import END_ID, TOP_N, ranked
from distlab.services.kafka.clients import FETCH_WAIT_MS
from distlab.services.kafka.processor import READY_ID

#: the environment variable holding the dataflow's settings (JSON)
CONF_VAR = "DISTLAB_BYTEWAX_FLOW"  # engine.BYTEWAX_RUN sets it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _fail(error: Any) -> None:
    raise RuntimeError(f"Kafka input failed: {error.err}")


def _event_time(item: tuple[int, Any]) -> datetime:
    return EPOCH + timedelta(milliseconds=item[0])


def _clock() -> win.EventClock:
    # the watermark is the largest event time seen (no system time added: a backlog must
    # not make the events behind it late), and nothing wakes the window on the clock
    return win.EventClock(
        _event_time,
        wait_for_system_duration=timedelta(0),
        now_getter=lambda: EPOCH,
        to_system_utc=lambda _t: None,
    )


def build() -> Dataflow:
    conf = json.loads(os.environ[CONF_VAR])
    bootstrap, topics, spec = conf["bootstrap"], conf["topics"], conf["spec"]
    partitions, filter_min, window_ms = conf["partitions"], spec["filter_min"], spec["window_ms"]
    keys_of = {
        p: [k for k in range(spec["keys"]) if k % partitions == p] for p in range(partitions)
    }

    flow = Dataflow("distlab_stream")
    source = kop.input(
        "source",
        flow,
        brokers=[bootstrap],
        topics=[topics["source"]],  # from the beginning: Bytewax's default
        add_config={"fetch.wait.max.ms": str(FETCH_WAIT_MS)},
    )
    op.inspect("errors", source.errs, lambda _step, error: _fail(error))

    def parse(msg) -> tuple[int, int, int, int, int, bytes]:
        eid, key, value, event_ms = (int(x) for x in msg.value.split(b",")[:4])
        return msg.partition, eid, key, value, event_ms, msg.value

    events = op.map("parse", source.oks, parse)
    kept = op.filter(
        "filter", events, lambda e: e[1] == READY_ID or (e[1] >= 0 and e[3] >= filter_min)
    )
    lines = op.map("line", kept, lambda e: KafkaSinkMessage(None, e[5]))
    kop.output("events_sink", lines, brokers=[bootstrap], topic=topics["sink_events"])
    windowed = op.filter(
        "to_windows", events, lambda e: e[1] == END_ID or (e[1] >= 0 and e[3] >= filter_min)
    )

    if spec["query"] == TOP_N:
        rows = _top_n(windowed, partitions, spec)
    else:
        rows = _windows(windowed, keys_of, window_ms)
    out = op.map("row", rows, lambda row: KafkaSinkMessage(None, ",".join(map(str, row)).encode()))
    kop.output("windows_sink", out, brokers=[bootstrap], topic=topics["sink_windows"])
    return flow


def _windows(windowed, keys_of: dict[int, list[int]], window_ms: int):
    def keyed(e) -> list[tuple[str, tuple[int, int | None]]]:
        partition, eid, key, value, event_ms, _raw = e
        if eid == END_ID:
            return [(str(k), (event_ms, None)) for k in keys_of[partition]]
        return [(str(key), (event_ms, value))]

    def fold(acc: tuple[int, int], item: tuple[int, int | None]) -> tuple[int, int]:
        value = item[1]
        return acc if value is None else (acc[0] + 1, acc[1] + value)

    folded = win.fold_window(
        "tumbling",
        op.flat_map("key", windowed, keyed),
        _clock(),
        win.TumblingWindower(length=timedelta(milliseconds=window_ms), align_to=EPOCH),
        builder=lambda: (0, 0),
        folder=fold,
        merger=lambda a, b: (a[0] + b[0], a[1] + b[1]),
        ordered=False,  # a count and a sum do not depend on the order
    )

    def row(item) -> list[tuple[int, int, int, int]]:
        key, (window_id, (count, total)) = item
        return [(int(key), window_id * window_ms, count, total)] if count else []

    return op.flat_map("closed", folded.down, row)


def _top_n(windowed, partitions: int, spec: dict[str, Any]):
    window_ms, top_n = spec["window_ms"], spec["top_n"]
    slide_ms = window_ms // 2

    def by_partition(e) -> list[tuple[str, tuple[int, int | None, int]]]:
        partition, eid, key, value, event_ms, _raw = e
        if eid == END_ID:
            return [
                (str(partition), (event_ms, None, 0)),
                (str(partition), (event_ms + window_ms, None, 0)),
            ]
        return [(str(partition), (event_ms, key, value))]

    def fold(sums: dict[int, int], item: tuple[int, int | None, int]) -> dict[int, int]:
        key = item[1]
        if key is not None:
            sums[key] = sums.get(key, 0) + item[2]
        return sums

    folded = win.fold_window(
        "sliding",
        op.flat_map("by_partition", windowed, by_partition),
        _clock(),
        win.SlidingWindower(
            length=timedelta(milliseconds=window_ms),
            offset=timedelta(milliseconds=slide_ms),
            align_to=EPOCH,
        ),
        builder=dict,
        folder=fold,
        merger=lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()},
        ordered=False,
    )

    def to_ranker(item):
        partition, (window_id, sums) = item
        return "all", (int(partition), window_id * slide_ms + window_ms, sums)

    def rank(state: dict | None, item) -> tuple[dict, list[tuple[int, int, int, int]]]:
        """Rank a window once every partition has closed it (a partition's windows come
        in the order they close)."""
        state = state or {"closed": {}, "sums": {}}
        partition, end, sums = item
        state["closed"][partition] = max(end, state["closed"].get(partition, end))
        window = state["sums"].setdefault(end, {})
        window.update(sums)  # the partitions' keys are apart
        if len(state["closed"]) < partitions:
            return state, []
        done_to = min(state["closed"].values())
        rows = []
        for done in sorted(e for e in state["sums"] if e <= done_to):
            per_key = state["sums"].pop(done)
            rows += [(k, done, r, s) for r, (k, s) in enumerate(ranked(per_key, top_n), 1)]
        return state, rows

    ranked_rows = op.stateful_flat_map("rank", op.map("to_ranker", folded.down, to_ranker), rank)
    return op.map("unkey", ranked_rows, lambda kv: kv[1])
