"""The driver's side of a stream run through Kafka topics, shared by every engine whose
source and sinks are topics (the Kafka engine, Flink): topics, the paced sender, the
sink reader.

Topics of one run (:class:`StreamTopics`): ``source`` (events as CSV
``event_id,key,value,event_ms``, partitioned by ``key % partitions``), ``sink-events``
(the id of every event that passed the filter) and ``sink-windows`` (CSV
``key,window_start_ms,count,sum``). The driver reads every sink partition without a
consumer group (no join delay).

Each sink partition must have ONE writer (a processor or sink subtask writes only its own
partition, so each sink has as many partitions as writers). With several producers
appending to one partition, Tansu lets a fetch return a later batch before an
earlier-offset batch of another producer is visible; a consumer reading live then moves
past the earlier batch and never sees it, although it was acknowledged and is stored (a
fresh read finds it).

Besides event ids, the events sink carries the processors' announcements:
``READY_ID,partition`` (a processor reads that source partition; Flink's warm-up probes
come back in the same form) and ``ERROR_ID,partition,reason`` (a processor failed).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from distlab.contracts import DistlabError, StreamResult, StreamSpec
from distlab.contracts.streams import END_ID, end_marker, expected_counts, send_paced
from distlab.services.kafka.broker import KafkaBroker, create_topics, delete_topics
from distlab.services.kafka.clients import ReliableProducer, consumer, take

#: a processor announces on the events sink that it reads its partition
READY_ID = -2
#: a processor that failed says so on the events sink: ``-3,partition,reason``
ERROR_ID = -3


def topic_names(run: str) -> dict[str, str]:
    return {
        "source": f"distlab-stream-src-{run}",
        "sink_events": f"distlab-stream-events-{run}",
        "sink_windows": f"distlab-stream-windows-{run}",
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
        self.t0: float | None = None  # set by the sender when the stream starts
        self._stop = threading.Event()
        self._consumer = consumer(bootstrap, f"distlab-stream-driver-{uuid.uuid4().hex[:8]}")
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
                    elif eid == END_ID:
                        continue
                    elif eid in self.arrivals:
                        self.duplicates += 1
                    else:
                        self.arrivals[eid] = now - (self.t0 or now)
                else:
                    key, start, count, total = (int(x) for x in fields[:4])
                    self.windows.append((key, start, count, total))

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


def send_stream(
    bootstrap: str, topic: str, spec: StreamSpec, partitions: int, on_start: Callable[[float], None]
) -> float:
    """Send every event to partition ``key % partitions`` of ``topic`` at its intended
    time (contracts.streams.send_paced, which hands the stream's t0 to ``on_start``
    before the first send); return the worst lag behind
    schedule in seconds. End markers go to every partition at the end (they close the
    last windows)."""
    # no resending: a resent event would break its partition's event-time order
    producer = ReliableProducer(bootstrap, resend=False)

    def send(event, line: str) -> None:
        producer.send(topic, line.encode(), event[1] % partitions)

    # idle: serve delivery reports while waiting for the next event's time
    lag = send_paced(spec, send, on_start=on_start, idle=producer.poll)
    producer.poll(0)
    marker = end_marker(spec).encode()
    for p in range(partitions):
        producer.send(topic, marker, p)
    producer.flush(30)
    return lag


def drive(
    bootstrap: str,
    spec: StreamSpec,
    topics: dict[str, str],
    partitions: int,
    announced: bool = False,
    warm_up: Callable[[SinkReader, float], None] | None = None,
    check: Callable[[], None] | None = None,
    sink_partitions: int | None = None,
) -> StreamResult:
    """Send the stream, collect the sinks, return what the sinks received (the engine
    adds its notes and settings). With ``announced``, sending starts once every
    partition's processor said it is reading; ``warm_up(reader, deadline)``, if given,
    runs before sending instead; ``check()`` is called while waiting for the sinks (it
    raises when the processing failed); ``sink_partitions`` defaults to ``partitions``."""
    n_passing, n_windows = expected_counts(spec)
    deadline = time.monotonic() + spec.timeout_s
    reader = SinkReader(bootstrap, topics, sink_partitions or partitions)
    try:
        if warm_up is not None:
            warm_up(reader, deadline)
        elif announced:
            reader.wait_ready(partitions, deadline)
        def on_start(t0: float) -> None:
            reader.t0 = t0

        lag = send_stream(bootstrap, topics["source"], spec, partitions, on_start)
        reader.wait(n_passing, n_windows, deadline, check)
        elapsed = time.perf_counter() - reader.t0
    finally:
        reader.close()
    return StreamResult(
        windows=list(reader.windows),
        arrivals=dict(reader.arrivals),
        elapsed_s=elapsed,
        send_lag_s=lag,
        duplicate_arrivals=reader.duplicates,
    )
