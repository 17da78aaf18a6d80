"""The stream workload (W7) through Kafka topics: the driver's paced sender and sink
reader (shared by every engine whose source is a Kafka topic), and the Kafka engine's own
stream processor.

Topics of one run: ``source`` (events as CSV ``event_id,key,value,event_ms``, partitioned
by ``key % partitions``), ``sink-events`` (the id of every event that passed the filter)
and ``sink-windows`` (CSV ``key,window_start_ms,count,sum``). The driver reads every sink
partition without a consumer group (no join delay).

Each sink partition has ONE writer: processor ``p`` writes only partition ``p`` of each
sink (as many sink partitions as source partitions). With several producers appending to
one partition, Tansu lets a fetch return a later batch before an earlier-offset batch of
another producer is visible; a consumer reading live then moves past the earlier batch and
never sees it, although it was acknowledged and is stored (a fresh read finds it).

On the Kafka engine the processing runs on the engine's own worker processes: one task per
source partition starts a processor thread in whichever worker the task lands on and
returns at once, so several processors can share a worker (the engine's tasks run one at a
time, and a processor runs until its partition's end marker). A processor reads its
partition with ``assign`` (no group rebalance can move its window state), filters, passes
kept events through and closes a key's tumbling window when its partition's event time
moves past the window's end (events of one partition arrive in event-time order); the end
marker (event_id -1) closes the rest.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from distlab.contracts import DistlabError
from distlab.services.kafka.broker import KafkaBroker, create_topics, delete_topics

#: Tansu answers a fetch only after fetch.wait.max.ms: this bounds each hop's latency
FETCH_WAIT_MS = 5
END_ID = -1
#: a processor announces on the events sink that it reads its partition
READY_ID = -2
#: a processor that failed says so on the events sink: ``-3,partition,reason``
ERROR_ID = -3
#: how often a message whose delivery failed is produced again before giving up
RESEND_ATTEMPTS = 5


def take(consumer: Consumer, timeout: float = 0.05) -> list:
    """What has arrived: waits up to ``timeout`` for the first message only
    (``consume(n, t)`` would wait the whole ``t`` for ``n`` messages)."""
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(1000, 0)]


def topic_names(run: str) -> dict[str, str]:
    return {
        "source": f"distlab-stream-src-{run}",
        "sink_events": f"distlab-stream-events-{run}",
        "sink_windows": f"distlab-stream-windows-{run}",
    }


def _producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 1,
            "acks": "all",
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 0,
        }
    )


def _consumer(bootstrap: str, name: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": name,  # required by the client; offsets are neither read nor committed
            "enable.auto.commit": False,
            "fetch.wait.max.ms": FETCH_WAIT_MS,
            "log_level": 0,
        }
    )


class ReliableProducer:
    """A producer that checks every delivery report. With ``resend``, a message whose
    delivery failed is produced again (up to RESEND_ATTEMPTS times; for sinks, whose
    order does not matter); a message that failed for good raises DistlabError at the next
    ``poll``/``flush``, and so does a ``flush`` that leaves messages undelivered."""

    def __init__(self, bootstrap: str, resend: bool = True):
        self.producer = _producer(bootstrap)
        self.resend = resend
        self._retry: list[tuple[str, bytes, int | None, int]] = []
        self._failed: list[str] = []

    def _report(self, attempt: int, partition: int | None):
        def on_delivery(err, msg) -> None:
            if err is None:
                return
            if self.resend and attempt < RESEND_ATTEMPTS:
                self._retry.append((msg.topic(), msg.value(), partition, attempt + 1))
            else:
                self._failed.append(f"{msg.topic()}: {err.str()}")

        return on_delivery

    def send(self, topic: str, value: bytes, partition: int | None = None, attempt: int = 1):
        kwargs = {"on_delivery": self._report(attempt, partition)}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self.producer.produce(topic, value, **kwargs)
                return
            except BufferError:  # local queue full: let it drain
                self.poll(0.01)

    def poll(self, timeout: float = 0) -> None:
        self.producer.poll(timeout)
        self._settle()

    def _settle(self) -> None:
        if self._failed:
            raise DistlabError(
                f"{len(self._failed)} Kafka message(s) could not be delivered "
                f"(first: {self._failed[0]})"
            )
        retry, self._retry = self._retry, []
        for topic, value, partition, attempt in retry:
            self.send(topic, value, partition, attempt)

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = self.producer.flush(max(0.0, deadline - time.monotonic()))
            self._settle()
            if left == 0 and not self._retry:
                return
            if time.monotonic() >= deadline:
                raise DistlabError(f"{left} Kafka message(s) undelivered after {timeout:g} s")


# -- the driver side ---------------------------------------------------------------------
class SinkReader:
    """Reads the two sink topics on a thread, stamping each pass-through on arrival."""

    def __init__(self, bootstrap: str, topics: dict[str, str], partitions: int):
        self.topics = topics
        self.arrivals: dict[int, float] = {}
        self.ready: set[int] = set()
        self.errors: list[str] = []
        self.windows: list[list[int]] = []
        self.t0: float | None = None  # set by the sender when the stream starts
        self._stop = threading.Event()
        self._consumer = _consumer(bootstrap, f"distlab-stream-driver-{uuid.uuid4().hex[:8]}")
        self._consumer.assign(
            [
                TopicPartition(topics[sink], p, OFFSET_BEGINNING)
                for sink in ("sink_events", "sink_windows")
                for p in range(partitions)
            ]
        )
        self._thread = threading.Thread(target=self._loop, name="distlab-sink", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        events_topic = self.topics["sink_events"]
        while not self._stop.is_set():
            msgs = take(self._consumer)
            now = time.perf_counter()
            for msg in msgs:
                if msg.error():
                    continue
                fields = msg.value().decode().split(",")
                if msg.topic() == events_topic:
                    eid = int(fields[0])
                    if eid == READY_ID:
                        self.ready.add(int(fields[1]))
                    elif eid == ERROR_ID:
                        reason = msg.value().decode().split(",", 2)[-1]
                        self.errors.append(f"partition {fields[1]}: {reason}")
                    elif eid != END_ID and eid not in self.arrivals:
                        self.arrivals[eid] = now - (self.t0 or now)
                else:
                    self.windows.append([int(x) for x in fields[:4]])

    def wait_ready(self, partitions: int, deadline: float) -> None:
        """Until a processor reads every source partition (engines that announce it)."""
        while len(self.ready) < partitions:
            if self.errors:
                raise DistlabError(f"a stream processor failed ({self.errors[0]})")
            if time.monotonic() > deadline:
                raise DistlabError(
                    f"stream processors took only {len(self.ready)} of {partitions} "
                    "partitions in time"
                )
            time.sleep(0.01)

    def wait(self, n_passing: int, n_windows: int, deadline: float, check=None) -> None:
        """Until every passing event and every window arrived (or the deadline);
        ``check()``, if given, is called now and then and may raise (a failed job)."""
        next_check = 0.0
        while time.monotonic() < deadline:
            if self.errors:
                raise DistlabError(f"a stream processor failed ({self.errors[0]})")
            if len(self.arrivals) >= n_passing and len(self.windows) >= n_windows:
                time.sleep(0.2)  # room for a stray duplicate to show up in the check
                return
            if check is not None and time.monotonic() >= next_check:
                check()
                next_check = time.monotonic() + 0.5
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def send_paced(bootstrap: str, topic: str, spec, partitions: int, on_start) -> float:
    """Send every event at its intended time (at once when already late); return the
    worst lag behind schedule in seconds. End markers go to every partition at the end,
    with an event time one window past the last event (they close the last windows)."""
    # no resending: a resent event would break its partition's event-time order
    producer = ReliableProducer(bootstrap, resend=False)
    events = spec.events()
    encoded = [(f"{e},{k},{v},{t}".encode(), k % partitions) for e, k, v, t in events]
    rate = spec.rate
    worst = 0.0
    t0 = time.perf_counter()
    on_start(t0)
    for i, (value, partition) in enumerate(encoded):
        intended = t0 + i / rate
        now = time.perf_counter()
        if now < intended:
            if intended - now > 0.0005:
                producer.poll(0)
                time.sleep(intended - now)
        else:
            worst = max(worst, now - intended)
        producer.send(topic, value, partition)
    producer.poll(0)
    end_ms = (events[-1][3] if events else 0) + 2 * spec.window_ms
    for p in range(partitions):
        producer.send(topic, f"{END_ID},-1,0,{end_ms}".encode(), p)
    producer.flush(30)
    return worst


def expected_counts(spec) -> tuple[int, int]:
    from distlab.workloads.stream import expected_window_count, passing_ids

    events = spec.events()
    return (
        len(passing_ids(events, spec.filter_min)),
        expected_window_count(events, spec.window_ms, spec.filter_min),
    )


def drive(
    bootstrap: str,
    spec,
    topics: dict[str, str],
    partitions: int,
    announced: bool = False,
    warm_up=None,
    check=None,
    sink_partitions: int | None = None,
) -> dict[str, Any]:
    """Send the stream, collect the sinks, return run_stream's raw result. With
    ``announced``, sending starts once every partition's processor said it is reading;
    ``warm_up(reader, deadline)``, if given, runs before sending instead; ``check()`` is
    called while waiting for the sinks (it raises when the processing failed);
    ``sink_partitions`` defaults to ``partitions``."""
    n_passing, n_windows = expected_counts(spec)
    deadline = time.monotonic() + spec.timeout_s
    reader = SinkReader(bootstrap, topics, sink_partitions or partitions)
    try:
        if warm_up is not None:
            warm_up(reader, deadline)
        elif announced:
            reader.wait_ready(partitions, deadline)
        started = time.perf_counter()

        def on_start(t0: float) -> None:
            reader.t0 = t0

        lag = send_paced(bootstrap, topics["source"], spec, partitions, on_start)
        reader.wait(n_passing, n_windows, deadline, check)
        elapsed = time.perf_counter() - started
    finally:
        reader.close()
    return {
        "arrivals": dict(reader.arrivals),
        "windows": list(reader.windows),
        "elapsed_s": elapsed,
        "send_lag_s": lag,
    }


class StreamTopics:
    """The topics of one run on ``bootstrap`` (or on an embedded broker started here),
    deleted again afterwards. Each sink has ``sink_partitions`` partitions (default: as
    many as the source), so that every writer can have a sink partition of its own."""

    def __init__(self, bootstrap: str | None, partitions: int, sink_partitions: int | None = None):
        self.partitions = partitions
        self.sink_partitions = sink_partitions or partitions
        self.broker = None if bootstrap else KafkaBroker().start()
        self.bootstrap = bootstrap or self.broker.bootstrap
        self.names = topic_names(uuid.uuid4().hex[:10])

    def __enter__(self) -> StreamTopics:
        try:
            create_topics(
                self.bootstrap,
                {
                    self.names["source"]: self.partitions,
                    self.names["sink_events"]: self.sink_partitions,
                    self.names["sink_windows"]: self.sink_partitions,
                },
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self.broker is not None:
            self.broker.stop()  # an embedded broker takes its topics with it
            self.broker = None
        else:
            delete_topics(self.bootstrap, list(self.names.values()))


# -- the Kafka engine's processor ----------------------------------------------------------
def _process_partition(bootstrap: str, topics: dict, partition: int, spec: dict) -> None:
    """A processor thread's body: a failure is reported to the driver on the events sink
    (the thread has nobody else to tell), on the processor's own partition, after its
    producer was flushed (so that partition still has one writer at a time)."""
    try:
        _run_processor(bootstrap, topics, partition, spec)
    except Exception as exc:
        reason = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]
        with contextlib.suppress(Exception):
            producer = _producer(bootstrap)
            producer.produce(
                topics["sink_events"], f"{ERROR_ID},{partition},{reason}".encode(), partition
            )
            producer.flush(5)


def _run_processor(bootstrap: str, topics: dict, partition: int, spec: dict) -> None:
    window_ms, filter_min = spec["window_ms"], spec["filter_min"]
    consumer = _consumer(bootstrap, f"distlab-stream-proc-{topics['source']}-{partition}")
    consumer.assign([TopicPartition(topics["source"], partition, OFFSET_BEGINNING)])
    # sink order does not matter (arrivals are stamped, windows collected): failed
    # deliveries are produced again, and one that fails for good ends the processor.
    # Everything goes to sink partition ``partition``: one writer per sink partition.
    producer = ReliableProducer(bootstrap, resend=True)
    sink_events, sink_windows = topics["sink_events"], topics["sink_windows"]
    # open windows of this partition: key -> window_start -> [count, sum]
    open_windows: dict[int, dict[int, list[int]]] = {}
    open_start = None  # the newest window start seen on this partition

    def close_before(limit: int | None) -> None:
        for key in list(open_windows):
            per_key = open_windows[key]
            for start in sorted(per_key):
                if limit is not None and start >= limit:
                    continue
                count, total = per_key.pop(start)
                producer.send(sink_windows, f"{key},{start},{count},{total}".encode(), partition)
            if not per_key:
                del open_windows[key]

    deadline = time.monotonic() + spec["timeout_s"]
    try:
        # The assignment is live once a first fetch came back (empty or not).
        take(consumer, 0.5)
        producer.send(sink_events, f"{READY_ID},{partition}".encode(), partition)
        producer.flush(10)
        while time.monotonic() < deadline:
            for msg in take(consumer):
                if msg.error():
                    continue
                eid, key, value, event_ms = map(int, msg.value().split(b","))
                if eid == END_ID:
                    close_before(None)
                    producer.send(sink_events, f"{END_ID},{partition}".encode(), partition)
                    producer.flush(30)  # everything delivered, or an error
                    return
                start = event_ms - event_ms % window_ms
                if open_start is not None and start > open_start:
                    close_before(start)  # event time moved past those windows' end
                open_start = start if open_start is None else max(open_start, start)
                if value < filter_min:
                    continue
                producer.send(sink_events, str(eid).encode(), partition)
                slot = open_windows.setdefault(key, {}).setdefault(start, [0, 0])
                slot[0] += 1
                slot[1] += value
            producer.poll(0)  # serves delivery reports
        raise DistlabError(f"no end marker within {spec['timeout_s']:g} s")
    finally:
        with contextlib.suppress(Exception):
            producer.producer.flush(5)
        consumer.close()


def start_processor(bootstrap: str, topics: dict, partition: int, spec: dict) -> int:
    """Engine task: start the processor of one source partition on this worker and return
    at once (the worker's pid), so the worker can take the next partition's task too."""
    thread = threading.Thread(
        target=_process_partition,
        args=(bootstrap, topics, partition, spec),
        name=f"distlab-stream-{partition}",
        daemon=True,
    )
    thread.start()
    return os.getpid()


def run_on_kafka_engine(engine, spec) -> dict[str, Any]:
    """KafkaEngine.run_stream: topics on the engine's broker (or spec.bootstrap), one
    processor per source partition on the engine's workers, the driver sends and reads."""
    if not engine.started:
        raise DistlabError("the kafka engine is not started")
    partitions = spec.partitions or engine.partitions
    with StreamTopics(spec.bootstrap or engine.bootstrap, partitions) as topics:
        spec_dict = spec.to_dict()
        hosts = engine.gather(
            [
                engine.submit(start_processor, topics.bootstrap, topics.names, p, spec_dict)
                for p in range(partitions)
            ]
        )
        raw = drive(topics.bootstrap, spec, topics.names, partitions, announced=True)
    raw["notes"] = (
        f"source: Kafka topic ({partitions} partitions); {partitions} processor threads "
        f"on {len(set(hosts))} engine worker process(es); sinks: Kafka topics"
    )
    return raw
