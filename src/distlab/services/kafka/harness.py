"""The driver's side of a stream run through Kafka topics, shared by every engine whose
source and sinks are topics (the Kafka engine, Flink, Spark, the raw pipe): topics, the
sink reader, and the run itself (:func:`drive`), whose paced sender runs in a process of
its own (distlab.services.kafka.sender).

Topics of one run (:class:`StreamTopics`): ``source`` (events as CSV
``event_id,key,value,event_ms``, partitioned by ``key % partitions``), ``sink-events``
(the id of every event that passed the filter) and ``sink-windows`` (CSV
``key,window_start_ms,count,sum``). The driver reads every sink partition without a
consumer group (no join delay).

Each sink has as many partitions as it has writers (processors or sink subtasks), so the
writes spread evenly; Apache Kafka lets any number of producers append to one partition
(tests/test_kafka_broker.py checks that a live reader sees every batch when they do).

Besides event ids, the events sink carries the processors' announcements:
``READY_ID,partition`` (a processor reads that source partition; Flink's warm-up probes
come back in the same form) and ``ERROR_ID,partition,reason`` (a processor failed).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.pacing import collector_paused
from distlab.contracts.streams import END_ID, expected_counts
from distlab.services.kafka.broker import RUNNING, KafkaBroker, create_topics, delete_topics
from distlab.services.kafka.clients import consumer, producer, take
from distlab.services.kafka.processor import ERROR_ID, READY_ID
from distlab.services.kafka.sender import SenderProcess

#: brokers this process started to share between streams (warmed_broker), by bootstrap
_SHARED: dict[str, KafkaBroker] = {}
#: what another process of distlab's (the runner) said of a broker it started, by bootstrap
_KNOWN: dict[str, dict[str, str]] = {}


def known_broker(bootstrap: str, settings: dict[str, str]) -> None:
    """Record that the broker at ``bootstrap`` is distlab's own, started elsewhere (e.g.
    the run's stream broker, distlab.run.stream_broker), with these settings."""
    _KNOWN[bootstrap] = dict(settings)


def broker_settings(broker: KafkaBroker | None, bootstrap: str) -> dict[str, str]:
    """What a run records of its broker: an embedded one's version and settings (also one
    shared between streams or started by the runner), or the user's bootstrap servers."""
    broker = broker or _SHARED.get(bootstrap)
    if broker is not None:
        return broker.settings()
    if bootstrap in _KNOWN:
        return _KNOWN[bootstrap]
    return {"server": "user cluster", "bootstrap": bootstrap}


def topic_names(run: str) -> dict[str, str]:
    return {
        "source": f"distlab-stream-src-{run}",
        "sink_events": f"distlab-stream-events-{run}",
        "sink_windows": f"distlab-stream-windows-{run}",
        # the sender's first delivery goes here, before the stream's clock starts
        "control": f"distlab-stream-control-{run}",
        # a second stage's input (the Kafka engine's top-N merger; one partition)
        "partials": f"distlab-stream-partials-{run}",
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
                    self.names["control"]: 1,
                    self.names["partials"]: 1,
                },
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def broker_settings(self) -> dict[str, str]:
        return broker_settings(self.broker, self.bootstrap)

    def __exit__(self, *exc_info) -> None:
        if self.broker is not None:
            self.broker.stop()  # an embedded broker takes its topics with it
            self.broker = None
        else:
            delete_topics(self.bootstrap, list(self.names.values()))


#: a broker distlab has just started runs its first seconds in the JVM's interpreter: the
#: first stream at 128,000 events/s on a fresh broker had p50 400-900 ms (a backlog that
#: built for 3 s and drained), the next ones 3-8 ms; a paced warm-up at 20,000 events/s
#: was not enough. Before its first measured stream, every broker of distlab's own gets
#: this many seconds of small messages as fast as one producer sends them, read back
#: at the same time over two partitions.
WARM_UP_S = 3.0
#: ... with at most this many messages sent and not yet read back: an unbounded burst
#: queued millions that took another ~6 s to drain after the 3 s
WARM_UP_BACKLOG = 100_000


def shared_broker() -> KafkaBroker:
    """A broker of distlab's own for streams that share it (their records name it as
    distlab's), warmed up at its first stream; the caller stops it with stop_shared()."""
    broker = KafkaBroker().start()
    _SHARED[broker.bootstrap] = broker
    return broker


def stop_shared(broker: KafkaBroker) -> None:
    _SHARED.pop(broker.bootstrap, None)
    broker.stop()


def warm_up_broker(bootstrap: str) -> None:
    """Warm up the broker at ``bootstrap`` once since its JVM started, if this process
    started it (a user's broker is left as it is): see WARM_UP_S."""
    broker = RUNNING.get(bootstrap)
    if broker is None or broker.warmed_up:
        return
    topic = f"distlab-warm-up-{uuid.uuid4().hex[:10]}"
    create_topics(bootstrap, {topic: 2})
    try:
        _burst(bootstrap, topic, 2)
    finally:
        delete_topics(bootstrap, [topic])
    broker.warmed_up = True


def _burst(bootstrap: str, topic: str, partitions: int) -> None:
    sender = producer(bootstrap)
    reader = consumer(bootstrap, f"distlab-warm-{uuid.uuid4().hex[:8]}")
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    sent = got = 0
    try:
        end = time.monotonic() + WARM_UP_S
        while time.monotonic() < end:
            if sent - got < WARM_UP_BACKLOG:
                with contextlib.suppress(BufferError):  # the local queue is full: read on
                    for _ in range(1000):
                        sender.produce(topic, b"0,0,0,0", partition=sent % partitions)
                        sent += 1
            sender.poll(0)
            got += len(take(reader, 0, most=10_000))
        sender.flush(10)
        deadline = time.monotonic() + 10
        while got < sent and time.monotonic() < deadline:
            got += len(take(reader, 0.1, most=10_000))
    finally:
        reader.close()


class SinkReader:
    """Reads the two sink topics on a thread, stamping each pass-through on arrival.
    Every window emission is kept in order; a pass-through id seen again is counted in
    ``duplicates`` (its first arrival stands)."""

    def __init__(self, bootstrap: str, topics: dict[str, str], partitions: int):
        self.topics = topics
        self.arrivals: dict[int, float] = {}
        self.duplicates = 0
        self.ready: set[int] = set()
        self.errors: list[str] = []
        self.windows: list[tuple[int, int, int, int]] = []
        #: distinct (key, window_start) emitted (several emissions each in update mode)
        self.window_keys: set[tuple[int, int]] = set()
        #: next offset to read per (topic, partition), to know when the sinks are read
        self.positions: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self._consumer = consumer(bootstrap, f"distlab-stream-driver-{uuid.uuid4().hex[:8]}")
        self.bootstrap, self.partitions = bootstrap, partitions
        self._partitions = [
            (topics[sink], p) for sink in ("sink_events", "sink_windows") for p in range(partitions)
        ]
        self._consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in self._partitions])
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
                topic, value = msg.topic(), msg.value()
                self.positions[(topic, msg.partition())] = msg.offset() + 1
                if topic == events_topic:
                    # the id is all the events sink is read for (int() takes bytes)
                    eid = int(value.split(b",", 1)[0])
                    if eid == READY_ID:
                        self.ready.add(int(value.split(b",")[1]))
                    elif eid == ERROR_ID:
                        _, partition, reason = value.decode().split(",", 2)
                        self.errors.append(f"partition {partition}: {reason}")
                    elif eid == END_ID:
                        continue
                    elif eid in self.arrivals:
                        self.duplicates += 1
                    else:
                        self.arrivals[eid] = now  # perf_counter: t0 is taken off at the end
                else:
                    key, start, count, total = (int(x) for x in value.split(b",")[:4])
                    self.windows.append((key, start, count, total))
                    self.window_keys.add((key, start))

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
            if len(self.arrivals) >= n_passing and len(self.window_keys) >= n_windows:
                return
            if check is not None and time.monotonic() >= next_check:
                check()
                next_check = time.monotonic() + 0.5
            time.sleep(0.01)

    def catch_up(self, deadline: float) -> None:
        """Until everything written to the sinks so far was read (a late duplicate or a
        window's last update included)."""
        # a client of its own: the reader thread keeps this one busy
        ends = {
            (topic, p): end
            for topic in {t for t, _ in self._partitions}
            for p, end in end_offsets(self.bootstrap, topic, self.partitions).items()
        }
        while any(self.positions.get(tp, 0) < end for tp, end in ends.items() if end > 0):
            if time.monotonic() > deadline:
                raise DistlabError("the driver could not read the stream's sinks to their end")
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def drive(
    bootstrap: str,
    spec: StreamSpec,
    topics: dict[str, str],
    partitions: int,
    announced: bool = False,
    warm_up: Callable[[SinkReader, float], None] | None = None,
    check: Callable[[], None] | None = None,
    sink_partitions: int | None = None,
    settle: Callable[[dict[int, int], float], None] | None = None,
    expect_all: bool = False,
) -> StreamResult:
    """Send the stream, collect the sinks, return what the sinks received (the engine
    adds its notes and settings). With ``announced``, sending starts once every
    partition's processor said it is reading; ``warm_up(reader, deadline)``, if given,
    runs before sending instead; ``check()`` is called while waiting for the sinks (it
    raises when the processing failed); ``sink_partitions`` defaults to ``partitions``;
    ``settle(end_offsets, deadline)``, if given, waits until the engine processed the source
    up to ``end_offsets`` ({partition: offset}) once every event and window was seen (an
    engine that emits running totals has more updates to come). Then the sinks are read
    to their end before the result is taken. With ``expect_all`` every event (not only the
    filter's) is awaited on the events sink and no window (the raw pipe)."""
    n_passing, n_windows = (spec.n_events, 0) if expect_all else expected_counts(spec)
    warm_up_broker(bootstrap)
    deadline = time.monotonic() + spec.timeout_s
    # the reader stamps arrivals in this process: no collector pause may delay them
    with collector_paused():
        reader = SinkReader(bootstrap, topics, sink_partitions or partitions)
        # the sender gets ready (events, producer) while the engine's processors start
        try:
            sender = SenderProcess(bootstrap, topics["source"], spec, partitions, topics["control"])
            try:
                if warm_up is not None:
                    warm_up(reader, deadline)
                elif announced:
                    reader.wait_ready(partitions, deadline)
                sender.go()
                t0 = sender.wait_started(max(1.0, deadline - time.monotonic()))
                pacer = sender.finish(max(1.0, deadline - time.monotonic()))
            finally:
                sender.close()
            reader.wait(n_passing, n_windows, deadline, check)
            if settle is not None:
                settle(end_offsets(bootstrap, topics["source"], partitions), deadline)
            reader.catch_up(deadline)
            elapsed = time.perf_counter() - t0
        finally:
            reader.close()
    return StreamResult(
        windows=list(reader.windows),
        arrivals={eid: stamp - t0 for eid, stamp in reader.arrivals.items()},
        elapsed_s=elapsed,
        send_lag_s=pacer["worst_lag_s"],
        send_late_share=pacer["late_share"],
        send_last_lag_s=pacer["last_lag_s"],
        sender_nice=pacer["nice"],
        duplicate_arrivals=reader.duplicates,
    )


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """{partition: the offset after its last message} of ``topic``."""
    reader = consumer(bootstrap, f"distlab-stream-offsets-{uuid.uuid4().hex[:8]}")
    try:
        return {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        reader.close()


def probe_warm_up(
    bootstrap: str, topic: str, partitions: int, check: Callable[[], None], engine: str
) -> Callable[[SinkReader, float], None]:
    """A ``drive`` warm-up for engines that do not announce themselves (Flink, Spark):
    probe every source partition (event id READY_ID, key = partition, value 1000, event
    time 0) until each probe came back through the engine's pass-through as
    ``READY_ID,partition``. Sending starts once the whole job reads and writes, so its
    start-up is not charged as latency. The engine's windows must ignore the probes."""

    def warm_up(reader: SinkReader, deadline: float) -> None:
        probes = producer(bootstrap)
        try:
            while len(reader.ready) < partitions:
                if time.monotonic() > deadline:
                    raise DistlabError(
                        f"the {engine} streaming job passed probes of only "
                        f"{len(reader.ready)} of {partitions} partitions in time"
                    )
                check()
                for p in set(range(partitions)) - reader.ready:
                    probes.produce(topic, f"{READY_ID},{p},1000,0".encode(), partition=p)
                probes.flush(10)
                wait_until = time.monotonic() + 1.0
                while len(reader.ready) < partitions and time.monotonic() < wait_until:
                    time.sleep(0.02)
        finally:
            probes.flush(10)

    return warm_up
