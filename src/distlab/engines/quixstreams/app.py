"""The stream workload as a Quix Streams application, written as its users write one: a
``StreamingDataFrame`` over the source topic, ``filter``/``apply``/``to_topic``, a
``group_by`` (Quix's repartition through a topic of its own) and its event-time windows
with ``.final()``; its state in RocksDB with changelog topics, Quix's defaults. Each
worker process runs ``python -m distlab.engines.quixstreams.app`` in one consumer group;
what to do comes from the environment (:data:`CONF_VAR`, set by the engine).

* Every event that passes the filter goes to the events sink at once, its line as read
  (the driver's warm-up probes too).
* Quix opens no window that starts before time 0, and the stream's event times start at
  0 (a sliding window ending at ``window_ms // 2`` starts before it): the windows see
  every event time one ``window_ms`` later (a multiple of every window's step, so they
  are aligned as before), and each window is written back in the stream's time.
* The source carries no message keys and Quix windows by key: the kept events are
  grouped by their key (``group_by``), their event time set from ``event_ms``. A key's
  events come from one source partition through one producer, so they stay in order and
  the windows close by key with no grace (Quix's default closing: a key's window closes
  when that key's later event passes its end). The end marker of partition ``p`` becomes
  an end item for every key of ``p`` before the grouping, which closes their last windows.
* WINDOWS: a tumbling window per key counting and summing: ``key,start,count,sum``.
* TOP_N: a hopping window per key (``window_ms`` long, every ``window_ms // 2``) summing;
  every closed window, and each key's end, go to a one-partition topic, where one
  stateful step ranks a window once every key has passed it: ``key,end,rank,sum``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import warnings

# quixstreams imports authlib's httpx client, which warns on import
warnings.filterwarnings("ignore", module="authlib")

from quixstreams import Application, message_context  # noqa: E402
from quixstreams.dataframe.windows import Count, Sum  # noqa: E402

from distlab.contracts.streams import END_ID, TOP_N, ranked  # noqa: E402
from distlab.services.kafka.clients import FETCH_WAIT_MS  # noqa: E402
from distlab.services.kafka.processor import READY_ID  # noqa: E402

CONF_VAR = "DISTLAB_QUIX_APP"
#: a key's progress once its end item passed: later than any window
DONE = 1 << 62


def build(conf: dict, process: int = 0) -> Application:
    spec, topics, partitions = conf["spec"], conf["topics"], conf["partitions"]
    filter_min, window_ms, keys = spec["filter_min"], spec["window_ms"], spec["keys"]
    app = Application(
        broker_address=conf["bootstrap"],
        consumer_group=conf["group"],
        auto_offset_reset="earliest",
        # one folder per process: Quix makes its group's folder in it (two processes
        # making the same one raced: FileExistsError)
        state_dir=os.path.join(conf["folder"], f"state-{process}"),
        loglevel="WARNING",
        consumer_extra_config={"fetch.wait.max.ms": FETCH_WAIT_MS},
    )
    source = app.topic(topics["source"], value_deserializer="bytes")
    # no keys on the events (the source has none); the windows keep the grouping's key
    events_sink = app.topic(topics["sink_events"], value_serializer="bytes")
    windows_sink = app.topic(topics["sink_windows"], value_serializer="bytes", key_serializer="str")

    def parse(line: bytes) -> dict:
        eid, key, value, event_ms = (int(x) for x in line.split(b",")[:4])
        return {"id": eid, "k": key, "v": value, "t": event_ms, "line": line}

    sdf = app.dataframe(source).apply(parse)
    passed = sdf.filter(lambda e: e["id"] == READY_ID or (e["id"] >= 0 and e["v"] >= filter_min))
    passed.apply(lambda e: e["line"]).to_topic(events_sink)

    def per_key(e: dict, _key, _timestamp, _headers) -> list[dict]:
        if e["id"] == END_ID:
            p = message_context().partition
            return [
                {"id": END_ID, "k": k, "v": 0, "t": e["t"]}
                for k in range(keys)
                if k % partitions == p
            ]
        return [{"id": e["id"], "k": e["k"], "v": e["v"], "t": e["t"]}]

    windowed = sdf.filter(lambda e: e["id"] == END_ID or (e["id"] >= 0 and e["v"] >= filter_min))
    keyed = (
        windowed.apply(per_key, expand=True, metadata=True)
        .group_by(lambda e: str(e["k"]), name="by_key")
        .set_timestamp(lambda e, _key, _timestamp, _headers: e["t"] + window_ms)
    )
    if spec["query"] == TOP_N:
        _top_n(app, keyed, topics, spec, windows_sink)
    else:

        def window_row(w: dict, key, _timestamp, _headers) -> bytes:
            return f"{key},{w['start'] - window_ms},{w['count']},{w['total']}".encode()

        closed = keyed.tumbling_window(window_ms).agg(count=Count(), total=Sum("v")).final()
        # an end item's window never closes (nothing comes after it)
        closed.apply(window_row, metadata=True).to_topic(windows_sink)
    return app


def _top_n(app: Application, keyed, topics: dict, spec: dict, windows_sink) -> None:
    window_ms, keys, top_n = spec["window_ms"], spec["keys"], spec["top_n"]
    partials = app.topic(
        topics["partials"], key_serializer="str", key_deserializer="str"
    )  # JSON, one partition

    def partial(w: dict, key, _timestamp, _headers) -> dict:
        return {"k": int(key), "end": w["end"] - window_ms, "sum": w["value"]}

    sums = keyed.hopping_window(window_ms, window_ms // 2).agg(value=Sum("v")).final()
    sums.apply(partial, metadata=True).to_topic(partials, key=lambda _v: "all")
    ended = keyed.filter(lambda e: e["id"] == END_ID)
    ended.apply(lambda e: {"k": e["k"], "end": DONE, "sum": 0}).to_topic(
        partials, key=lambda _v: "all"
    )

    def rank(item: dict, state) -> list[bytes]:
        """Rank a window once every key's windows have closed past its end (a key's
        windows close in order, its end item after its last)."""
        progress = state.get("progress", {})
        pending = state.get("pending", {})
        key, end = str(item["k"]), item["end"]
        progress[key] = max(end, progress.get(key, end))
        if end != DONE and item["sum"]:
            pending.setdefault(str(end), {})[key] = item["sum"]
        rows = []
        if len(progress) == keys:
            done_to = min(progress.values())
            for w_end in sorted(int(e) for e in pending if int(e) <= done_to):
                per_key = {int(k): s for k, s in pending.pop(str(w_end)).items()}
                for r, (k, s) in enumerate(ranked(per_key, top_n), 1):
                    rows.append(f"{k},{w_end},{r},{s}".encode())
        state.set("progress", progress)
        state.set("pending", pending)
        return rows

    ranking = app.dataframe(partials).apply(rank, stateful=True, expand=True)
    ranking.to_topic(windows_sink)


def main() -> None:
    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    app = build(json.loads(os.environ[CONF_VAR]), int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    # SIGTERM (the engine's stop) ends the run loop as Ctrl-C would
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    app.run()


if __name__ == "__main__":
    main()
