"""The streams contract (distlab.contracts.streams) on Spark Structured Streaming.

Spark reads Kafka only through the spark-sql-kafka connector jars, which are fetched from
Maven at run time and are not installable here (no PyPI package ships them). So the
source is Spark's built-in socket source instead: the driver listens on 127.0.0.1 and
writes each event as a text line at its intended send time; each streaming query opens
its own connection and gets every line. What differs from a Kafka source: the socket
source keeps no offsets (not replayable, not fault tolerant) and its lines enter
micro-batches as they are buffered; the processing itself is the same.

Two queries run side by side on the same stream:

* pass-through: parse, filter (value >= filter_min), ``foreachBatch`` hands each
  micro-batch's event ids to the driver, which stamps their arrival (the sink);
* windows: parse, filter, ``groupBy(window(event_time, window_ms), key)`` with count and
  sum in update mode: each micro-batch emits the running totals of the windows it
  changed; the driver returns every emission in order, declared ``last-is-final`` (the
  workload takes the last one per window as final and says so). (Append mode with a watermark,
  which emits each window once when it closes, never emitted the last windows here
  although the end marker's event time was past them.)

Micro-batches run every _TRIGGER_MS, each costing Spark's planning and scheduling time:
that overhead is part of the latency measured (the interval is in the result's settings).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time

from pyspark.sql import functions as F

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import LAST_IS_FINAL, end_marker, expected_counts, send_paced
from distlab.procs import free_port

_LOOPBACK = "127.0.0.1"
_QUERIES = 2
#: micro-batch interval: back-to-back batches of two queries starve a 2-core machine
_TRIGGER_MS = 200


class _LineServer:
    """Accepts the streaming queries' connections and writes every line to all of them."""

    def __init__(self):
        self.port = free_port(_LOOPBACK)
        self._server = socket.create_server((_LOOPBACK, self.port))
        self._server.settimeout(0.2)
        self.clients: list[socket.socket] = []

    def wait_clients(self, n: int, deadline: float) -> None:
        while len(self.clients) < n:
            if time.monotonic() > deadline:
                raise DistlabError(
                    f"only {len(self.clients)} of {n} Spark streaming queries connected "
                    "to the socket source in time"
                )
            with contextlib.suppress(TimeoutError):
                conn, _ = self._server.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.clients.append(conn)

    def send(self, line: str) -> None:
        data = (line + "\n").encode()
        for conn in self.clients:
            conn.sendall(data)

    def close(self) -> None:
        for conn in self.clients:
            with contextlib.suppress(OSError):
                conn.close()
        self._server.close()


def run_on_spark(engine, spec: StreamSpec) -> StreamResult:
    """SparkEngine.run_stream: two streaming queries on the engine's session, fed by the
    driver's socket source, their sinks collected in the driver."""
    spark = engine.session
    n_passing, n_windows = expected_counts(spec)
    deadline = time.monotonic() + spec.timeout_s

    arrivals: dict[int, float] = {}
    duplicates = [0]
    clock = {"t0": None}
    lock = threading.Lock()

    def on_events(batch_df, _batch_id) -> None:
        ids = [row[0] for row in batch_df.collect()]
        now = time.perf_counter()
        with lock:
            for eid in ids:
                if eid in arrivals:
                    duplicates[0] += 1
                else:
                    arrivals[eid] = now - (clock["t0"] or now)

    emitted: list[tuple[int, int, int, int]] = []  # every emission, in order
    latest: set[tuple[int, int]] = set()  # windows emitted at least once
    window_batches = [0]

    def on_windows(batch_df, _batch_id) -> None:
        rows = batch_df.collect()
        with lock:
            # update mode: a row is a window's running total; the last one is final
            for r in rows:
                emitted.append((r["key"], r["start_ms"], r["count"], r["sum"]))
                latest.add((r["key"], r["start_ms"]))
            window_batches[0] += 1

    # Few state partitions: on a small local cluster each costs a task per micro-batch.
    previous_partitions = spark.conf.get("spark.sql.shuffle.partitions")
    state_partitions = max(1, engine.workers or 1)
    spark.conf.set("spark.sql.shuffle.partitions", str(state_partitions))
    server = _LineServer()
    checkpoints = tempfile.mkdtemp(prefix="distlab-spark-stream-")
    queries = []
    try:
        lines = (
            spark.readStream.format("socket")
            .option("host", _LOOPBACK)
            .option("port", server.port)
            .load()
        )
        parts = F.split(F.col("value"), ",")
        parsed = lines.select(
            parts[0].cast("long").alias("event_id"),
            parts[1].cast("int").alias("key"),
            parts[2].cast("long").alias("value"),
            F.timestamp_millis(parts[3].cast("long")).alias("event_time"),
        )
        kept = parsed.where(F.col("value") >= spec.filter_min)
        window = F.window("event_time", f"{spec.window_ms} milliseconds")
        per_window = (
            parsed.where(F.col("value") >= spec.filter_min)
            .groupBy(window.alias("w"), F.col("key"))
            .agg(F.count("*").alias("count"), F.sum("value").alias("sum"))
            .select(
                "key",
                F.unix_millis(F.col("w.start")).alias("start_ms"),
                "count",
                "sum",
            )
        )
        queries.append(
            kept.select("event_id")
            .writeStream.foreachBatch(on_events)
            .trigger(processingTime=f"{_TRIGGER_MS} milliseconds")
            .option("checkpointLocation", f"{checkpoints}/events")
            .start()
        )
        queries.append(
            per_window.writeStream.outputMode("update")
            .trigger(processingTime=f"{_TRIGGER_MS} milliseconds")
            .foreachBatch(on_windows)
            .option("checkpointLocation", f"{checkpoints}/windows")
            .start()
        )
        server.wait_clients(_QUERIES, deadline)
        def on_start(t0: float) -> None:
            clock["t0"] = t0

        lag = send_paced(spec, lambda _event, line: server.send(line), on_start=on_start)
        started = clock["t0"]
        marker = end_marker(spec)
        next_marker = 0.0
        all_seen_at = None
        while time.monotonic() < deadline:
            # The repeated end marker keeps micro-batches coming after the last event.
            if time.monotonic() >= next_marker:
                server.send(marker)
                next_marker = time.monotonic() + 0.25
            with lock:
                if all_seen_at is None:
                    if len(arrivals) >= n_passing and len(latest) >= n_windows:
                        all_seen_at = window_batches[0]
                elif window_batches[0] >= all_seen_at + 2:
                    # two more batches of the windows query: every event line was
                    # before a marker line, so their updates are all in
                    break
            for q in queries:
                if q.exception() is not None:
                    raise DistlabError(f"a Spark streaming query failed: {q.exception()}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        progress = [q.lastProgress or {} for q in queries]
        batch_ms = [p.get("durationMs", {}).get("triggerExecution") for p in progress]
    finally:
        for q in queries:
            with contextlib.suppress(Exception):
                q.stop()
        server.close()
        spark.conf.set("spark.sql.shuffle.partitions", previous_partitions)
        shutil.rmtree(checkpoints, ignore_errors=True)
    with lock:
        return StreamResult(
            windows=list(emitted),
            arrivals=dict(arrivals),
            elapsed_s=elapsed,
            send_lag_s=lag,
            duplicate_arrivals=duplicates[0],
            window_updates=LAST_IS_FINAL,
            notes=(
                "source: Spark socket source fed by the driver (no Kafka connector jars "
                "offline); micro-batch queries; sinks: foreachBatch to the driver"
            ),
            settings={
                "trigger_ms": _TRIGGER_MS,
                "queries": _QUERIES,
                "shuffle_partitions": state_partitions,
                "output_mode_windows": "update",
                "last_batch_ms": batch_ms,
            },
        )
