"""Stream processors written as a Kafka client's users write them: one consumer/producer
loop per process over its share of the source partitions (as a consumer group member
holds several), taking what has arrived in batches, no per-message callback objects or
flushes. The Kafka engine runs them on its worker processes
(distlab.engines.kafka.stream); any engine whose workers can run a long Python loop can
run them too.

A processor reads its partitions with ``assign`` (no group rebalance can move its window
state), filters, passes kept events through at once and aggregates by the spec's query,
with each partition's state apart. The events of one partition arrive in event-time order (the sender keeps each partition
in order), so a window is complete as soon as the partition's event time reaches its end;
the end marker (event_id -1) closes the rest.

* WINDOWS: each key's tumbling window is written to the windows sink when it closes;
  what comes from source partition ``p`` goes to partition ``p`` of each sink (the
  sinks are partitioned like the source).
* TOP_N: the keys of a sliding window are spread over the partitions (key % partitions),
  so ranking them takes a second stage, as a Kafka Streams application repartitions:
  each processor writes its own top ``top_n`` of every closed window to the one-partition
  ``partials`` topic, followed by a mark ``-1,partition,t`` (every window ending at or
  before ``t`` is complete from this partition) and at its end ``-2,partition,0``; the
  merger (:func:`run_merger`) ranks a window once every partition's mark passed its end
  (the global top N is within the union of the local ones). Both write through
  idempotent producers, so each partition's rows come before its mark.
"""

from __future__ import annotations

import contextlib
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from distlab.contracts import DistlabError
from distlab.contracts.streams import END_ID, TOP_N, ranked
from distlab.services.kafka.clients import ReliableProducer, consumer, producer, take

#: the most messages a processor takes from its consumer at once
BATCH = 10_000
#: a processor announces on the events sink that it reads its partition
READY_ID = -2
#: a processor that failed says so on the events sink: ``-3,partition,reason``
ERROR_ID = -3
#: partials topic: a partition's mark (windows ending at or before t are complete) ...
MARK = -1
#: ... and its end
DONE = -2


def report_failure(bootstrap: str, topic: str, partition: int, exc: Exception) -> None:
    """Tell the driver on the events sink (a processor thread has nobody else to tell)."""
    reason = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]
    with contextlib.suppress(Exception):
        reporter = producer(bootstrap)
        reporter.produce(topic, f"{ERROR_ID},{partition},{reason}".encode(), partition=partition)
        reporter.flush(5)


def process_partitions(bootstrap: str, topics: dict, partitions: list[int], spec: dict) -> None:
    """A processor's whole run over its source partitions; a failure is reported on the
    events sink."""
    try:
        _Processor(bootstrap, topics, partitions, spec).run()
    except Exception as exc:
        report_failure(bootstrap, topics["sink_events"], partitions[0], exc)


def spread(partitions: int, processors: int) -> list[list[int]]:
    """Source partitions dealt round-robin to ``processors`` (at most one per partition)."""
    count = max(1, min(processors, partitions))
    return [list(range(partitions))[i::count] for i in range(count)]


class _Processor:
    """One consumer and one producer for all its partitions (as a consumer group member
    holds several), with each partition's window state apart: event time only moves
    forward within a partition."""

    def __init__(self, bootstrap: str, topics: dict, partitions: list[int], spec: dict):
        self.topics, self.partitions, self.spec = topics, partitions, spec
        name = f"distlab-stream-proc-{topics['source']}-{partitions[0]}"
        self.source = consumer(bootstrap, name)
        self.source.assign(
            [TopicPartition(topics["source"], p, OFFSET_BEGINNING) for p in partitions]
        )
        # sink order does not matter (arrivals are stamped, windows collected): failed
        # deliveries are produced again, and one that fails for good ends the processor.
        self.sink = ReliableProducer(bootstrap, resend=True)
        # the partials must keep their order (rows before the mark that completes them)
        self.partials = (
            ReliableProducer(bootstrap, resend=False, in_order=True)
            if spec["query"] == TOP_N
            else None
        )
        self.states = {p: _PartitionState(self, p) for p in partitions}

    def run(self) -> None:
        deadline = time.monotonic() + self.spec["timeout_s"]
        events_sink = self.topics["sink_events"]
        filter_min = self.spec["filter_min"]
        send = self.sink.producer.produce  # the hot path: no wrapper call per event
        states, running = self.states, set(self.partitions)
        try:
            take(self.source, 0.5)  # the assignment is live once a first fetch came back
            for p in self.partitions:
                self.sink.send(events_sink, f"{READY_ID},{p}".encode(), p)
            self.sink.flush(10)
            while time.monotonic() < deadline:
                for msg in take(self.source, most=BATCH):
                    if msg.error():
                        continue
                    p = msg.partition()
                    eid, key, value, event_ms = map(int, msg.value().split(b","))
                    if eid == END_ID:
                        states[p].close_all()
                        self.sink.send(events_sink, f"{END_ID},{p}".encode(), p)
                        running.discard(p)
                        if not running:
                            self.sink.flush(30)  # everything delivered, or an error
                            return
                        continue
                    if value >= filter_min:
                        try:
                            send(events_sink, str(eid).encode(), partition=p)
                        except BufferError:
                            self.sink.send(events_sink, str(eid).encode(), p)
                    states[p].add(key, value if value >= filter_min else None, event_ms)
                self.sink.poll(0)  # serves delivery reports (and resends)
            raise DistlabError(f"no end marker within {self.spec['timeout_s']:g} s")
        finally:
            with contextlib.suppress(Exception):
                self.sink.producer.flush(5)
            self.source.close()


class _PartitionState:
    """One source partition's open windows (its events arrive in event-time order)."""

    def __init__(self, processor: _Processor, partition: int):
        self.topics, self.spec = processor.topics, processor.spec
        self.sink, self.partials, self.partition = processor.sink, processor.partials, partition
        # WINDOWS: key -> window start -> [count, sum]; TOP_N: window end -> key -> sum
        self.open: dict = {}
        self.newest = None  # WINDOWS: newest window start; TOP_N: newest closed-through
        self.add = self._top_n_add if self.partials is not None else self._window_add

    # -- WINDOWS: keyed tumbling windows --------------------------------------------------
    def _window_add(self, key: int, value: int | None, event_ms: int) -> None:
        window_ms = self.spec["window_ms"]
        start = event_ms - event_ms % window_ms
        if self.newest is not None and start > self.newest:
            self._close_windows_before(start)  # event time moved past those windows' end
        self.newest = start if self.newest is None else max(self.newest, start)
        if value is not None:
            slot = self.open.setdefault(key, {}).setdefault(start, [0, 0])
            slot[0] += 1
            slot[1] += value

    def _close_windows_before(self, limit: int | None) -> None:
        sink_windows, p = self.topics["sink_windows"], self.partition
        for key in list(self.open):
            per_key = self.open[key]
            for start in sorted(per_key):
                if limit is not None and start >= limit:
                    continue
                count, total = per_key.pop(start)
                self.sink.send(sink_windows, f"{key},{start},{count},{total}".encode(), p)
            if not per_key:
                del self.open[key]

    # -- TOP_N: local top-N of sliding windows, ranked again by the merger ------------------
    def _top_n_add(self, key: int, value: int | None, event_ms: int) -> None:
        window_ms = self.spec["window_ms"]
        slide = max(1, window_ms // 2)
        through = event_ms - event_ms % slide  # windows ending here or before are complete
        if self.newest is None or through > self.newest:
            self._close_through(through)
        if value is not None:
            first_end = through + slide
            for end in range(first_end, event_ms + window_ms + 1, slide):
                per_key = self.open.setdefault(end, {})
                per_key[key] = per_key.get(key, 0) + value

    def _close_through(self, through: int) -> None:
        topic = self.topics["partials"]
        for end in sorted(e for e in self.open if e <= through):
            for key, total in ranked(self.open.pop(end), self.spec["top_n"]):
                self.partials.send(topic, f"{end},{key},{total}".encode(), 0)
        self.partials.send(topic, f"{MARK},{self.partition},{through}".encode(), 0)
        self.partials.poll(0)
        self.newest = through

    def close_all(self) -> None:
        if self.partials is None:
            self._close_windows_before(None)
            return
        if self.open:
            self._close_through(max(self.open))
        self.partials.send(self.topics["partials"], f"{DONE},{self.partition},0".encode(), 0)
        self.partials.flush(30)


def run_merger(bootstrap: str, topics: dict, partitions: int, spec: dict) -> None:
    """TOP_N's second stage: rank each window once every partition completed it; write
    ``key,window_end_ms,rank,sum`` to partition 0 of the windows sink. A failure is
    reported on the events sink."""
    try:
        _merge(bootstrap, topics, partitions, spec)
    except Exception as exc:
        report_failure(bootstrap, topics["sink_events"], 0, exc)


def _merge(bootstrap: str, topics: dict, partitions: int, spec: dict) -> None:
    source = consumer(bootstrap, f"distlab-stream-merge-{topics['partials']}")
    source.assign([TopicPartition(topics["partials"], 0, OFFSET_BEGINNING)])
    sink = ReliableProducer(bootstrap, resend=True)
    rows: dict[int, dict[int, int]] = {}  # window end -> key -> sum (local top-Ns)
    marks = dict.fromkeys(range(partitions), -1)
    done: set[int] = set()
    deadline = time.monotonic() + spec["timeout_s"]
    try:
        while len(done) < partitions:
            if time.monotonic() > deadline:
                raise DistlabError(f"the top-N merger saw no end within {spec['timeout_s']:g} s")
            for msg in take(source):
                if msg.error():
                    continue
                first, second, third = map(int, msg.value().split(b","))
                if first == MARK:
                    marks[second] = third
                elif first == DONE:
                    done.add(second)
                    marks[second] = sys.maxsize  # nothing more from that partition
                else:
                    rows.setdefault(first, {})[second] = third
            complete = min(marks.values())
            for end in sorted(e for e in rows if e <= complete):
                for rank, (key, total) in enumerate(ranked(rows.pop(end), spec["top_n"]), 1):
                    sink.send(topics["sink_windows"], f"{key},{end},{rank},{total}".encode(), 0)
            sink.poll(0)
        sink.flush(30)
    finally:
        with contextlib.suppress(Exception):
            sink.producer.flush(5)
        source.close()
