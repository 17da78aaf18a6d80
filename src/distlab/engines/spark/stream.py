"""The streams contract (distlab.contracts.streams) on Spark Structured Streaming, between
Kafka topics.

The driver side is the shared Kafka harness (distlab.services.kafka.harness): the same
topics, paced sender, end markers and sink reader as the Kafka and Flink engines, on an
embedded Apache Kafka broker (or ``spec.bootstrap``). Spark reads and writes them with
its own Kafka source and sink (the spark-sql-kafka package, built for this pyspark and
pinned with the other JVM parts: distlab.jvm, module ``spark-kafka``; the engine puts its
jars on ``spark.jars`` when it starts).

Two queries run side by side on the same source topic:

* pass-through: parse the CSV value, filter (value >= filter_min), write
  ``event_id,key`` to the events sink topic, in Real-time Mode (Spark 4.1+, for stateless
  queries; the low-latency mode Spark's guide advises): long-running tasks, one per
  source partition, stream each record through instead of waiting for a micro-batch;
* windows (query WINDOWS): parse, filter, ``groupBy(window(event_time, window_ms), key)``
  with count and sum in update mode: each micro-batch writes the running totals of the
  windows it changed as ``key,window_start_ms,count,sum``, declared ``last-is-final``
  (the workload takes the last emission per window as final and says so). (Append mode
  with a watermark, which emits each window once, emits a window only in a later
  micro-batch, i.e. after more data arrive.)
* top-N (query TOP_N): sums per key over sliding windows in append mode with a
  watermark (each window's sums come out once, in the micro-batch after the watermark
  passed its end); ranking is not supported on a streaming frame, so each micro-batch's
  finished windows are ranked in ``foreachBatch`` (as Spark's guide advises for
  operations streams lack) and written as ``key,window_end_ms,rank,sum`` through the
  batch Kafka writer. Every key of a window finishes in the same micro-batch (the
  watermark is one for the whole query), so each window is ranked once, whole.

Before the stream starts the driver probes every partition (harness.probe_warm_up) until
the pass-through returned each probe. Once every event and window was seen, the driver
waits until the windows query has processed the source to its end offsets, so the
windows' last updates are in. Its micro-batches run every TRIGGER_MS, each costing
Spark's planning and scheduling; the median time of each part of a micro-batch is
recorded (``batch_ms_median``), so the figures say where the time went.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pyspark.sql import functions as F

from distlab import jvm
from distlab.contracts import DistlabError, EngineUnavailable, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID, FINAL, LAST_IS_FINAL, TOP_N
from distlab.services.kafka.harness import StreamTopics, drive, probe_warm_up

#: micro-batch interval: back-to-back batches of two queries starve a 2-core machine
TRIGGER_MS = 200
#: the pass-through's Real-time Mode trigger: a checkpoint interval, not a latency (a
#: longer one has fewer pauses; a stream here is shorter than it)
REAL_TIME_CHECKPOINT = "5 minutes"
#: TOP_N: how far the watermark trails the newest event time, in windows' slides. The
#: source's partitions are read up to their newest offsets at each micro-batch, within
#: milliseconds of each other in event time: one slide (half a window) keeps every
#: on-time event, and only delays the top-N rows (pass-through latency is unaffected).
WATERMARK_SLIDES = 1
#: of the spark-kafka module's jars, those pyspark does not ship itself
_CONNECTOR_JARS = (
    "spark-sql-kafka",
    "spark-token-provider-kafka",
    "kafka-clients",
    "commons-pool2",
)


def kafka_connector_jars() -> tuple[list[Path], str | None]:
    """The jars of Spark's Kafka source and sink for ``spark.jars``, or ([], why not)."""
    try:
        jars = [j for j in jvm.classpath("spark-kafka") if j.name.startswith(_CONNECTOR_JARS)]
    except EngineUnavailable as exc:
        return [], str(exc)
    return jars, None


def _parsed(spark, bootstrap: str, topic: str):
    lines = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    parts = F.split(F.col("value").cast("string"), ",")
    return lines.select(
        parts[0].cast("long").alias("event_id"),
        parts[1].cast("int").alias("key"),
        parts[2].cast("long").alias("value"),
        parts[3].cast("long").alias("event_ms"),
    )


def _to_kafka(frame, bootstrap: str, topic: str, checkpoint: str, mode: str, **trigger):
    return (
        frame.writeStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("topic", topic)
        .option("checkpointLocation", checkpoint)
        .outputMode(mode)
        .trigger(**(trigger or {"processingTime": f"{TRIGGER_MS} milliseconds"}))
        .start()
    )


def _per_window(kept, spec: StreamSpec):
    window = F.window(F.timestamp_millis("event_ms"), f"{spec.window_ms} milliseconds")
    return (
        kept.groupBy(window.alias("w"), F.col("key"))
        .agg(F.count("*").alias("count"), F.sum("value").alias("sum"))
        .select(
            F.concat_ws(",", "key", F.unix_millis(F.col("w.start")), "count", "sum").alias("value")
        )
    )


def _top_n_query(parsed, spec: StreamSpec, bootstrap: str, names: dict, checkpoint: str):
    from pyspark.sql import Window

    slide = max(1, spec.window_ms // 2)
    # The filter is applied inside the aggregation, not before it: Spark's optimizer
    # pushes a filter below the watermark, and the end marker (which the filter drops)
    # must move the watermark so that the last windows close.
    passes = (F.col("value") >= spec.filter_min) & (F.col("event_id") >= 0)
    sums = (
        parsed.withColumn("ts", F.timestamp_millis("event_ms"))
        .withWatermark("ts", f"{slide * WATERMARK_SLIDES} milliseconds")
        .groupBy(
            F.window("ts", f"{spec.window_ms} milliseconds", f"{slide} milliseconds").alias("w"),
            F.col("key"),
        )
        .agg(
            F.sum(F.when(passes, F.col("value")).otherwise(0)).alias("total"),
            F.count(F.when(passes, True)).alias("passed"),
        )
        .where(F.col("passed") > 0)
    )
    rank = F.row_number().over(Window.partitionBy("w").orderBy(F.desc("total"), F.asc("key")))

    def write_top(batch, _batch_id) -> None:
        (
            batch.withColumn("rank", rank)
            .where(F.col("rank") <= spec.top_n)
            .select(
                F.concat_ws(",", "key", F.unix_millis(F.col("w.end")), "rank", "total").alias(
                    "value"
                )
            )
            .write.format("kafka")
            .option("kafka.bootstrap.servers", bootstrap)
            .option("topic", names["sink_windows"])
            .save()
        )

    return (
        sums.writeStream.outputMode("append")
        .foreachBatch(write_top)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{TRIGGER_MS} milliseconds")
        .start()
    )


def _processed_offsets(query, topic: str) -> dict[int, int]:
    """{partition: end offset} of the query's last finished micro-batch."""
    progress = query.lastProgress
    if not progress:
        return {}
    for source in progress["sources"]:
        end = source["endOffset"]
        end = json.loads(end) if isinstance(end, str) else end
        if isinstance(end, dict) and topic in end:
            return {int(p): int(o) for p, o in end[topic].items()}
    return {}


def _run_queries(
    spark, spec: StreamSpec, topics, partitions: int, checkpoints: str, queries, check
):
    """Start the two queries (appended to ``queries`` for the caller to stop; their
    checkpoints under ``checkpoints``), drive the stream through them; return the result
    and each query's last micro-batch time."""
    names, bootstrap = topics.names, topics.bootstrap
    parsed = _parsed(spark, bootstrap, names["source"])
    kept = parsed.where(F.col("value") >= spec.filter_min)
    passing = kept.where(F.col("event_id") != END_ID).select(
        F.concat_ws(",", F.col("event_id"), F.col("key")).alias("value")
    )
    # the pass-through is stateless: Real-time Mode (Spark 4.1+; update mode, the trigger
    # being its checkpoint interval) streams each record through long-running tasks
    queries.append(
        _to_kafka(
            passing,
            bootstrap,
            names["sink_events"],
            f"{checkpoints}/e",
            "update",
            realTime=REAL_TIME_CHECKPOINT,
        )
    )
    windows = kept.where(F.col("event_id") >= 0)  # not the probes
    if spec.query == TOP_N:
        queries.append(_top_n_query(parsed, spec, bootstrap, names, f"{checkpoints}/w"))
    else:
        queries.append(
            _to_kafka(
                _per_window(windows, spec),
                bootstrap,
                names["sink_windows"],
                f"{checkpoints}/w",
                "update",
            )
        )

    def settle(ends: dict[int, int], deadline: float) -> None:
        # running totals: the last update of a window is in once the windows query
        # finished a micro-batch that reached the source's end offsets (the real-time
        # pass-through reports progress only at its checkpoints; all its events are in)
        while True:
            check()
            done = [_processed_offsets(queries[1], names["source"])]
            if all(all(d.get(p, 0) >= o for p, o in ends.items()) for d in done):
                return
            if time.monotonic() > deadline:
                raise DistlabError("Spark's queries did not reach the stream's end in time")
            time.sleep(0.02)

    result = drive(
        bootstrap,
        spec,
        names,
        partitions,
        warm_up=probe_warm_up(bootstrap, names["source"], partitions, check, "Spark"),
        check=check,
        settle=settle,
    )
    return result, {
        name: batch_breakdown(q) for name, q in zip(("events", "windows"), queries, strict=True)
    }


def batch_breakdown(query) -> dict[str, float]:
    """Where a query's micro-batches spent their time: the median of each part Spark
    reports (``durationMs``: planning, the offsets' write-ahead log, the batch itself,
    the commit ...) over the batches that read data, and how many there were."""
    batches = [p for p in (query.recentProgress or []) if p.get("numInputRows")]
    parts: dict[str, list[float]] = {}
    for progress in batches:
        for part, ms in (progress.get("durationMs") or {}).items():
            parts.setdefault(part, []).append(float(ms))
    out = {part: statistics.median(values) for part, values in sorted(parts.items())}
    return {**out, "batches_with_data": len(batches)}


def run_on_spark(engine, spec: StreamSpec) -> StreamResult:
    """SparkEngine.run_stream: two streaming queries on the engine's session between
    Kafka topics; the driver sends and reads through the shared harness."""
    if not engine.kafka_jars:
        raise DistlabError(f"Spark's Kafka source is unavailable: {engine.kafka_jars_missing}")
    spark = engine.session
    # the real-time pass-through holds one task slot per source partition for the whole
    # stream: half the slots, so that the windows query's micro-batches have the rest
    partitions = spec.partitions or max(1, (engine.workers or 1) // 2)
    # Few state partitions: on a small local cluster each costs a task per micro-batch.
    previous_partitions = spark.conf.get("spark.sql.shuffle.partitions")
    state_partitions = max(1, engine.workers or 1)
    spark.conf.set("spark.sql.shuffle.partitions", str(state_partitions))
    checkpoints = tempfile.mkdtemp(prefix="distlab-spark-stream-")
    queries: list = []

    def check() -> None:
        for q in queries:
            if q.exception() is not None:
                first = (str(q.exception()).strip().splitlines() or ["?"])[0][:240]
                raise DistlabError(f"a Spark streaming query failed: {first}")

    try:
        with StreamTopics(spec.bootstrap, partitions) as topics:
            broker = topics.broker_settings
            try:
                result, batch_ms = _run_queries(
                    spark, spec, topics, partitions, checkpoints, queries, check
                )
            finally:
                # before the topics (and an embedded broker) go: a query whose broker is
                # gone takes a minute to stop
                for q in queries:
                    with contextlib.suppress(Exception):
                        q.stop()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous_partitions)
        shutil.rmtree(checkpoints, ignore_errors=True)
    top_n = spec.query == TOP_N
    result.window_updates = FINAL if top_n else LAST_IS_FINAL
    aggregate = (
        "sliding-window sums in append mode ranked per micro-batch in foreachBatch"
        if top_n
        else "tumbling windows in update mode"
    )
    result.notes = (
        f"source: Kafka topic ({partitions} partitions) read by Spark's Kafka source; two "
        "Structured Streaming queries: the pass-through in Real-time Mode, the "
        f"{aggregate} in micro-batches every {TRIGGER_MS} ms; sinks: Kafka topics through "
        "Spark's Kafka sink"
    )
    result.settings = {
        "trigger_ms": TRIGGER_MS,
        "pass_through_trigger": f"realTime={REAL_TIME_CHECKPOINT} (Real-time Mode)",
        "queries": 2,
        "partitions": partitions,
        "shuffle_partitions": state_partitions,
        "output_mode_windows": "append" if top_n else "update",
        **({"watermark_delay_ms": max(1, spec.window_ms // 2) * WATERMARK_SLIDES} if top_n else {}),
        # where the time went: median ms per part of a micro-batch, per query
        "batch_ms_median": batch_ms,
        "connector": ", ".join(j.name for j in engine.kafka_jars),
        "broker": broker,
    }
    return result
