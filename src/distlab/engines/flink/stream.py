"""The streams contract (distlab.contracts.streams) on Flink: a Flink SQL streaming job
between Kafka topics.

The driver side is the shared Kafka harness (distlab.services.kafka.harness): the same
topics, paced sender, end markers and sink reader as the Kafka engine, on an embedded
Tansu broker (or ``spec.bootstrap``).
The job, two INSERTs in one statement set sharing one Kafka source:

* source: the Kafka SQL connector reads the source topic from the earliest offset, parses
  the CSV lines and derives the event time from ``event_ms`` with a zero-delay watermark
  (the events of one partition arrive in event-time order; the source tracks a
  watermark per partition and forwards the smallest);
* pass-through: filter, write ``event_id,key`` to the events sink topic;
* sinks: one partition per sink subtask, and the ``fixed`` partitioner (subtask ``i``
  writes only partition ``i``): Tansu can hide a batch from a live reader when several
  producers append to one partition (see distlab.services.kafka.harness);
* windows: a TUMBLE window TVF per key with count and sum, emitted when the watermark
  passes the window's end, written as ``key,window_start_ms,count,sum``.

Before the stream starts the driver sends a probe per partition (event id -2, passed
through as ``-2,partition``, ignored by the windows) until every partition's probe came
back: sending starts once the whole job reads and writes, so start-up is not charged as
latency.

Flink ships no Kafka connector: its jars come from the PyPI package
``shigawire-apache-flink-libraries`` (flink-connector-kafka 4.0.1-2.0 and kafka-clients
3.9.1), fetched once into a cache directory next to Flink's environment. Only the two jars
are taken from it and passed with ``pipeline.jars``: installing the package would replace
Flink's own jars.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

from distlab.contracts import DistlabError, EngineStartError, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID
from distlab.engines.flink import env as flink_env
from distlab.services.kafka.clients import FETCH_WAIT_MS, producer
from distlab.services.kafka.harness import READY_ID, SinkReader, StreamTopics, drive

CONNECTOR_PACKAGE = "shigawire-apache-flink-libraries"
#: ships flink-connector-kafka 4.0.1-2.0 (Flink 2.x connector API) and kafka-clients 3.9.1
CONNECTOR_VERSION = "2.0.0.post1"
CONNECTOR_JARS = ("flink-connector-kafka.jar", "kafka-clients.jar")
#: probes come back through the pass-through as the harness's READY announcements
PROBE_ID = READY_ID
#: a partition with no data this long stops holding the watermark back; long, because a
#: partition marked idle while the others advance would see its later events as late
IDLE_TIMEOUT = "5 s"
#: periodic watermarks and network buffers: small, so windows close soon after their end
WATERMARK_INTERVAL = "50 ms"
BUFFER_TIMEOUT = "5 ms"


# -- the connector jars ----------------------------------------------------------------
def connector_dir() -> Path:
    return flink_env.venv_dir().parent / f"flink-connectors-{CONNECTOR_VERSION}"


def connector_jars() -> list[Path]:
    """The Kafka connector jars, fetched and extracted on first use (under a file lock)."""
    directory = connector_dir()
    jars = [directory / name for name in CONNECTOR_JARS]
    if all(j.is_file() for j in jars):
        return jars
    directory.parent.mkdir(parents=True, exist_ok=True)
    with directory.with_name(directory.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not all(j.is_file() for j in jars):
                _fetch(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return jars


def _fetch(directory: Path) -> None:
    requirement = f"{CONNECTOR_PACKAGE}=={CONNECTOR_VERSION}"
    print(
        f"distlab: fetching Flink's Kafka connector jars ({requirement}) into {directory}...",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="distlab-flink-connectors-") as tmp:
        lib = _download(requirement, Path(tmp))
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory.parent))
        try:
            for name in CONNECTOR_JARS:
                shutil.copyfile(lib / name, staging / name)
            if directory.exists():
                shutil.rmtree(directory)
            staging.rename(directory)  # complete or absent, never half there
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _download(requirement: str, tmp: Path) -> Path:
    """Fetch the wheel without installing it anywhere; return the folder with its jars.
    pip downloads the wheel (opened here as a zip); without pip, uv unpacks it into a
    scratch --target directory (not an environment)."""
    commands = []
    for python in dict.fromkeys([sys.executable, shutil.which("python3")]):
        if python and _has_pip(python):
            commands.append(
                ("pip", [python, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp)])
            )
    uv = flink_env._uv()
    if uv:
        commands.append(
            ("uv", [uv, "pip", "install", "-q", "--no-deps", "--target", str(tmp / "t")])
        )
    failures = []
    for tool, cmd in commands:
        done = subprocess.run(
            [*cmd, requirement], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            failures.append(f"{tool}: {(done.stderr.strip().splitlines() or ['?'])[-1][:160]}")
            continue
        if tool == "uv":
            return tmp / "t" / "pyflink" / "lib"
        wheel = next(tmp.glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in CONNECTOR_JARS:
                zf.extract(f"pyflink/lib/{name}", tmp / "x")
        return tmp / "x" / "pyflink" / "lib"
    raise EngineStartError(
        f"Flink's Kafka connector jars are unavailable: cannot fetch {requirement} "
        f"({'; '.join(failures) or 'neither pip nor uv found'})"
    )


def _has_pip(python: str) -> bool:
    done = subprocess.run(
        [python, "-c", "import pip"], capture_output=True, stdin=subprocess.DEVNULL
    )
    return done.returncode == 0


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
            # Tansu answers a fetch only after this wait: it bounds the source's latency
            "properties.fetch.max.wait.ms": str(FETCH_WAIT_MS),
            "format": "csv",
        },
    )
    sink = {
        "format": "raw",
        # one writer per sink partition: as many partitions as sink subtasks, subtask i
        # writes partition i only
        "sink.parallelism": str(sink_parallelism),
        "sink.partitioner": "fixed",
        "sink.delivery-guarantee": "at-least-once",
        "properties.linger.ms": "0",
    }
    window_ms, filter_min = int(spec.window_ms), int(spec.filter_min)
    return [
        f"""CREATE TEMPORARY TABLE src (
              event_id BIGINT, k INT, v BIGINT, event_ms BIGINT,
              ts AS TO_TIMESTAMP_LTZ(event_ms, 3),
              WATERMARK FOR ts AS ts
            ) WITH ({source})""",
        f"""CREATE TEMPORARY TABLE sink_events (line STRING)
            WITH ({_kafka_options(bootstrap, topics["sink_events"], sink)})""",
        f"""CREATE TEMPORARY TABLE sink_windows (line STRING)
            WITH ({_kafka_options(bootstrap, topics["sink_windows"], sink)})""",
        # the end marker (id -1) is dropped by the filter; probes (id -2) pass through
        f"""INSERT INTO sink_events
            SELECT CONCAT_WS(',', CAST(event_id AS STRING), CAST(k AS STRING))
            FROM src WHERE v >= {filter_min} AND event_id <> {END_ID}""",
        # windows are aligned on epoch milliseconds, as the golden's
        # event_ms - event_ms % window_ms, so each window's start is computed from its events
        f"""INSERT INTO sink_windows
            SELECT CONCAT_WS(',', CAST(k AS STRING),
                   CAST(MIN(event_ms) - MOD(MIN(event_ms), {window_ms}) AS STRING),
                   CAST(COUNT(*) AS STRING), CAST(SUM(v) AS STRING))
            FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '{window_ms / 1000:.3f}' SECOND))
            WHERE event_id >= 0 AND v >= {filter_min}
            GROUP BY window_start, window_end, k""",
    ]


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


def _warm_up(bootstrap: str, topic: str, partitions: int, job: _Job):
    """Probe every partition until each probe came back through the job."""

    def warm_up(reader: SinkReader, deadline: float) -> None:
        probes = producer(bootstrap)
        try:
            while len(reader.ready) < partitions:
                if time.monotonic() > deadline:
                    raise DistlabError(
                        f"the Flink streaming job passed probes of only {len(reader.ready)} "
                        f"of {partitions} partitions in time"
                    )
                job.check()
                for p in set(range(partitions)) - reader.ready:
                    probes.produce(topic, f"{PROBE_ID},{p},1000,0".encode(), partition=p)
                probes.flush(10)
                wait_until = time.monotonic() + 1.0
                while len(reader.ready) < partitions and time.monotonic() < wait_until:
                    time.sleep(0.02)
        finally:
            probes.flush(10)

    return warm_up


def run_on_flink(engine, spec: StreamSpec) -> StreamResult:
    """FlinkEngine.run_stream: topics on an embedded broker (or spec.bootstrap), the SQL
    job on the engine's mini-cluster (or cluster), the driver sends and reads."""
    if not engine.started:
        engine.start()
    jars = connector_jars()
    partitions = spec.partitions or engine.workers  # started: workers is set
    sink_parallelism = engine.workers
    with StreamTopics(spec.bootstrap, partitions, sink_parallelism) as topics:
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
                warm_up=_warm_up(topics.bootstrap, topics.names["source"], partitions, job),
                check=job.check,
                sink_partitions=sink_parallelism,
            )
        finally:
            job.cancel()
    result.notes = (
        f"source: Kafka topic ({partitions} partitions) read by the Flink Kafka SQL "
        f"connector; Flink SQL job (TUMBLE window TVF), parallelism {engine.workers}; "
        "sinks: Kafka topics"
    )
    result.settings = {
        "parallelism": engine.workers,
        "partitions": partitions,
        "sink_parallelism": sink_parallelism,
        "fetch_wait_ms": FETCH_WAIT_MS,
        "watermark_interval": WATERMARK_INTERVAL,
        "buffer_timeout": BUFFER_TIMEOUT,
        "idle_timeout": IDLE_TIMEOUT,
        "mode": "remote" if engine.address else "mini-cluster",
    }
    return result
