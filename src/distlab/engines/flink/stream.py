"""The streams contract (distlab.contracts.streams) on Flink: a Flink SQL streaming job
between Kafka topics.

The driver side is the shared Kafka harness (distlab.services.kafka.harness): the same
topics, paced sender, end markers and sink reader as the Kafka and Spark engines, on an
embedded Apache Kafka broker (or ``spec.bootstrap``).
The job, two INSERTs in one statement set sharing one Kafka source:

* source: the Kafka SQL connector reads the source topic from the earliest offset, parses
  the CSV lines and derives the event time from ``event_ms`` with the watermark Flink
  documents for ascending timestamps, the newest event time minus 1 ms (the events of
  one partition arrive in event-time order, but many share a millisecond: a watermark
  AT the newest time closes a window whose last millisecond still has events to come,
  which Flink then drops as late; this happened at 96,000 events/s). The source tracks
  a watermark per partition and forwards the smallest;
* pass-through: filter, write ``event_id,key`` to the events sink topic;
* sinks: Kafka topics with as many partitions as sink subtasks, written at least once;
* windows (query WINDOWS): a TUMBLE window TVF per key with count and sum, emitted when
  the watermark passes the window's end, written as ``key,window_start_ms,count,sum``;
* top-N (query TOP_N): Flink's window Top-N, ROW_NUMBER over a HOP window TVF's sums per
  key, emitted once per window when the watermark passes its end, written as
  ``key,window_end_ms,rank,sum``.

Before the stream starts the driver sends a probe per partition (event id -2, passed
through as ``-2,partition``, ignored by the windows) until every partition's probe came
back: sending starts once the whole job reads and writes, so start-up is not charged as
latency.

Flink ships no Kafka connector: the job loads Flink's Kafka SQL connector (one shaded jar
with its Kafka client, built for apache-flink's version) from Maven Central, pinned with
the other JVM parts (distlab.jvm, module ``flink-kafka``), through ``pipeline.jars``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

from distlab import jvm
from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID, TOP_N
from distlab.services.kafka.harness import StreamTopics, drive, probe_warm_up

#: a partition with no data this long stops holding the watermark back; long, because a
#: partition marked idle while the others advance would see its later events as late
IDLE_TIMEOUT = "5 s"
#: periodic watermarks and network buffers: small, so windows close soon after their end
WATERMARK_INTERVAL = "50 ms"
BUFFER_TIMEOUT = "5 ms"


# -- the job ---------------------------------------------------------------------------
def _kafka_options(bootstrap: str, topic: str, extra: dict[str, str]) -> str:
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": bootstrap,
        **extra,
    }
    return ", ".join(f"'{k}' = '{v}'" for k, v in options.items())


def _statements(
    spec, bootstrap: str, topics: dict[str, str], run: str, sink_parallelism: int
) -> list[str]:
    source = _kafka_options(
        bootstrap,
        topics["source"],
        {
            "properties.group.id": f"distlab-flink-stream-{run}",  # no offsets committed
            "scan.startup.mode": "earliest-offset",
            "format": "csv",
        },
    )
    sink = {
        "format": "raw",
        "sink.parallelism": str(sink_parallelism),
        "sink.delivery-guarantee": "at-least-once",
        "properties.linger.ms": "0",
    }
    filter_min = int(spec.filter_min)
    aggregate = _top_n(spec) if spec.query == TOP_N else _windows(spec)
    return [
        f"""CREATE TEMPORARY TABLE src (
              event_id BIGINT, k INT, v BIGINT, event_ms BIGINT,
              ts AS TO_TIMESTAMP_LTZ(event_ms, 3),
              WATERMARK FOR ts AS ts - INTERVAL '0.001' SECOND
            ) WITH ({source})""",
        f"""CREATE TEMPORARY TABLE sink_events (line STRING)
            WITH ({_kafka_options(bootstrap, topics["sink_events"], sink)})""",
        f"""CREATE TEMPORARY TABLE sink_windows (line STRING)
            WITH ({_kafka_options(bootstrap, topics["sink_windows"], sink)})""",
        # the end marker (id -1) is dropped by the filter; probes (id -2) pass through
        f"""INSERT INTO sink_events
            SELECT CONCAT_WS(',', CAST(event_id AS STRING), CAST(k AS STRING))
            FROM src WHERE v >= {filter_min} AND event_id <> {END_ID}""",
        f"INSERT INTO sink_windows {aggregate}",
    ]


def _seconds(ms: int) -> str:
    return f"INTERVAL '{ms / 1000:.3f}' SECOND"


def _windows(spec) -> str:
    # windows are aligned on epoch milliseconds, as the golden's
    # event_ms - event_ms % window_ms, so each window's start is computed from its events
    window_ms = int(spec.window_ms)
    return f"""
        SELECT CONCAT_WS(',', CAST(k AS STRING),
               CAST(MIN(event_ms) - MOD(MIN(event_ms), {window_ms}) AS STRING),
               CAST(COUNT(*) AS STRING), CAST(SUM(v) AS STRING))
        FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), {_seconds(window_ms)}))
        WHERE event_id >= 0 AND v >= {int(spec.filter_min)}
        GROUP BY window_start, window_end, k"""


def _top_n(spec) -> str:
    # window_end is a TIMESTAMP in the session's time zone (UTC, see _table_env): its
    # epoch milliseconds are its whole seconds plus its milliseconds
    end_ms = (
        "UNIX_TIMESTAMP(DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss')) * 1000"
        " + CAST(DATE_FORMAT(window_end, 'SSS') AS BIGINT)"
    )
    slide = max(1, int(spec.window_ms) // 2)
    return f"""
        SELECT CONCAT_WS(',', CAST(k AS STRING), CAST({end_ms} AS STRING),
               CAST(rank_in_window AS STRING), CAST(total AS STRING))
        FROM (
          SELECT k, total, window_end, ROW_NUMBER() OVER (
              PARTITION BY window_start, window_end ORDER BY total DESC, k ASC
            ) AS rank_in_window
          FROM (
            SELECT window_start, window_end, k, SUM(v) AS total
            FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), {_seconds(slide)},
                           {_seconds(int(spec.window_ms))}))
            WHERE event_id >= 0 AND v >= {int(spec.filter_min)}
            GROUP BY window_start, window_end, k))
        WHERE rank_in_window <= {int(spec.top_n)}"""


def _table_env(engine, jars: list[Path]):
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    config = Configuration()
    for key, value in engine.settings().items():
        config.set_string(key, value)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config)
    t_env = TableEnvironment.create(settings.build())
    table_config = t_env.get_config()
    table_config.set("pipeline.jars", ";".join(j.resolve().as_uri() for j in jars))
    table_config.set("table.exec.source.idle-timeout", IDLE_TIMEOUT)
    table_config.set("pipeline.auto-watermark-interval", WATERMARK_INTERVAL)
    table_config.set("execution.buffer-timeout.interval", BUFFER_TIMEOUT)
    # window bounds are TIMESTAMPs in this zone: UTC makes them epoch wall clock
    table_config.set("table.local-time-zone", "UTC")
    return t_env


class _Job:
    """The submitted streaming job: status checks that raise on failure, and cancel."""

    TERMINAL = ("FAILED", "CANCELED", "FINISHED")

    def __init__(self, table_result):
        self.client = table_result.get_job_client()

    def status(self) -> str:
        return self.client.get_job_status().result().name

    def check(self) -> None:
        status = self.status()
        if status in self.TERMINAL:
            raise DistlabError(f"the Flink streaming job stopped ({status}): {self._cause()}")

    def _cause(self) -> str:
        try:
            self.client.get_job_execution_result().result()
        except Exception as exc:
            java = getattr(exc, "java_exception", None)
            while java is not None and java.getCause() is not None:
                java = java.getCause()
            text = str(java.toString()) if java is not None else str(exc)
            return (text.strip().splitlines() or ["?"])[0][:240]
        return "no error reported"

    def cancel(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(Exception):
            if self.status() in self.TERMINAL:
                return
            future = self.client.cancel()
            deadline = time.monotonic() + timeout
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.05)


def run_on_flink(engine, spec: StreamSpec) -> StreamResult:
    """FlinkEngine.run_stream: topics on an embedded broker (or spec.bootstrap), the SQL
    job on the engine's mini-cluster (or cluster), the driver sends and reads."""
    if not engine.started:
        engine.start()
    jars = jvm.classpath("flink-kafka")
    partitions = spec.partitions or engine.workers  # started: workers is set
    sink_parallelism = engine.workers
    with StreamTopics(spec.bootstrap, partitions, sink_parallelism) as topics:
        broker = topics.broker_settings
        t_env = _table_env(engine, jars)
        *tables, to_events, to_windows = _statements(
            spec, topics.bootstrap, topics.names, uuid.uuid4().hex[:8], sink_parallelism
        )
        for ddl in tables:
            t_env.execute_sql(ddl)
        statements = t_env.create_statement_set()
        statements.add_insert_sql(to_events)
        statements.add_insert_sql(to_windows)
        job = _Job(statements.execute())
        try:
            result = drive(
                topics.bootstrap,
                spec,
                topics.names,
                partitions,
                warm_up=probe_warm_up(
                    topics.bootstrap, topics.names["source"], partitions, job.check, "Flink"
                ),
                check=job.check,
                sink_partitions=sink_parallelism,
            )
        finally:
            job.cancel()
    result.notes = (
        f"source: Kafka topic ({partitions} partitions) read by the Flink Kafka SQL "
        f"connector; Flink SQL job ({'window Top-N over a HOP' if spec.query == TOP_N else 'TUMBLE'} "
        f"window TVF), parallelism {engine.workers}; "
        "sinks: Kafka topics"
    )
    result.settings = {
        "parallelism": engine.workers,
        "partitions": partitions,
        "sink_parallelism": sink_parallelism,
        "connector": ", ".join(j.name for j in jars),
        "broker": broker,
        "watermark_interval": WATERMARK_INTERVAL,
        "buffer_timeout": BUFFER_TIMEOUT,
        "idle_timeout": IDLE_TIMEOUT,
        "mode": "remote" if engine.address else "mini-cluster",
    }
    return result
