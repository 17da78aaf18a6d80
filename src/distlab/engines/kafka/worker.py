"""A Kafka work-queue worker: ``python -m distlab.engines.kafka.worker --bootstrap ...``.

Every worker joins one consumer group on the task topic. For each task message (key: task
id, value: cloudpickled ``(fn_blob, args, kwargs)``) it runs the function, produces the
outcome to the results topic keyed by the task id, and commits the task's offset only
after that result is flushed: a worker killed mid-task leaves its task uncommitted, so the
group hands it to another member (at-least-once; the driver drops and counts duplicates).

Assignment changes are announced on the results topic as control messages (key
CONTROL_KEY, JSON value) so the driver can wait until the group covers every partition.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import sys
import time
from collections import OrderedDict
from typing import Any

import cloudpickle
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from distlab.contracts.errors import DistlabError, call_capturing

CONTROL_KEY = b"\x00distlab-assignment"
#: uncommitted finished tasks are committed at least this often (seconds)
COMMIT_EVERY = 0.05
#: locally buffered task messages taken in one batch
BATCH = 200


class _FunctionCache:
    """Unpickled functions by their pickled bytes: map() sends one function many times."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[bytes, Any] = OrderedDict()

    def get(self, blob: bytes) -> Any:
        fn = self._items.get(blob)
        if fn is None:
            fn = cloudpickle.loads(blob)
            self._items[blob] = fn
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(blob)
        return fn


#: bytes a record needs besides its value (key, headers, batch framing): kept free
RECORD_OVERHEAD = 4096


def too_large(what: str, size: int, limit: int) -> DistlabError:
    return DistlabError(
        f"the pickled {what} is {size:,} bytes, over the Kafka engine's message limit of "
        f"{limit:,} (option max_message_bytes; or pass a path, not the data)"
    )


def encode_outcome(ok: bool, value: Any) -> bytes:
    """A result or an exception, pickled; an unpicklable one degrades to a RuntimeError."""
    try:
        return cloudpickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        what = "result" if ok else f"exception {type(value).__name__}: {value}"
        text = getattr(value, "_distlab_remote_tb", "") if not ok else ""
        err = RuntimeError(f"the task's {what} could not be pickled ({exc})\n{text}")
        return cloudpickle.dumps((False, err))


class Worker:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.stopping = False
        self.assigned: set[int] = set()
        self.functions = _FunctionCache()
        # Finished but not yet committed: partition -> next offset to read.
        self.pending: dict[int, int] = {}
        self.last_commit = time.monotonic()
        common = {"bootstrap.servers": args.bootstrap, "client.id": f"distlab-worker-{args.index}"}
        self.producer = Producer(
            {
                **common,
                "linger.ms": 0,
                "message.max.bytes": args.max_message_bytes,
                "acks": "all",
            }
        )
        self.consumer = Consumer(
            {
                **common,
                "group.id": args.group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": args.session_timeout_ms,
                "heartbeat.interval.ms": max(100, args.session_timeout_ms // 10),
                "fetch.wait.max.ms": args.fetch_wait_ms,
                "max.poll.interval.ms": args.max_task_seconds * 1000,
                "fetch.max.bytes": args.max_message_bytes,
                "max.partition.fetch.bytes": args.max_message_bytes,
                "receive.message.max.bytes": args.max_message_bytes + 1_000_000,
            }
        )

    # -- group membership -------------------------------------------------------------
    def _announce(self) -> None:
        note = {"worker": self.args.index, "pid": os.getpid(), "partitions": sorted(self.assigned)}
        self.producer.produce(
            self.args.results, json.dumps(note).encode(), key=CONTROL_KEY, partition=self.args.index
        )
        self.producer.flush(10)

    def on_assign(self, consumer, partitions) -> None:
        self.assigned |= {p.partition for p in partitions}
        self._announce()

    def on_revoke(self, consumer, partitions) -> None:
        # Hand over cleanly: what finished here is committed before another member starts.
        self.commit(force=True)
        self.assigned -= {p.partition for p in partitions}
        self.pending = {p: o for p, o in self.pending.items() if p in self.assigned}
        self._announce()

    # -- work ---------------------------------------------------------------------------
    def commit(self, force: bool = False) -> None:
        if not self.pending:
            return
        if not force and time.monotonic() - self.last_commit < COMMIT_EVERY:
            return
        # The results must be on the broker before their tasks count as done.
        self.producer.flush(30)
        offsets = [TopicPartition(self.args.tasks, p, o) for p, o in self.pending.items()]
        self.pending = {}
        self.last_commit = time.monotonic()
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException:
            pass  # lost the partition meanwhile: its new owner re-runs those tasks

    def run_task(self, msg) -> None:
        try:
            fn_blob, args, kwargs = cloudpickle.loads(msg.value())
            fn = self.functions.get(fn_blob)
            outcome = encode_outcome(True, call_capturing(fn, args, kwargs))
        except BaseException as exc:  # the task's own failure goes back to the caller
            if isinstance(exc, KeyboardInterrupt | SystemExit) and self.stopping:
                raise
            outcome = encode_outcome(False, exc)
        # A record over the size limit would be refused by the producer: the task fails
        # with the reason instead (a crash here would re-run it forever, uncommitted).
        limit = self.args.max_message_bytes - RECORD_OVERHEAD
        if len(outcome) > limit:
            outcome = encode_outcome(False, too_large("result", len(outcome), limit))
        while True:
            try:
                # partitioned by task id: any worker may write any results partition
                self.producer.produce(self.args.results, outcome, key=msg.key())
                break
            except BufferError:
                self.producer.poll(0.05)
        self.producer.poll(0)

    def take_batch(self) -> list:
        first = self.consumer.poll(0.1)
        if first is None:
            return []
        batch = [first]
        while len(batch) < BATCH:
            more = self.consumer.poll(0)
            if more is None:
                break
            batch.append(more)
        return batch

    def loop(self) -> None:
        self.consumer.subscribe(
            [self.args.tasks], on_assign=self.on_assign, on_revoke=self.on_revoke
        )
        while not self.stopping:
            if self.args.parent_pid and os.getppid() != self.args.parent_pid:
                break  # the driver died without closing us: do not linger
            for msg in self.take_batch():
                if self.stopping:
                    break
                if msg.error():
                    continue  # transient broker errors; librdkafka retries by itself
                if msg.partition() not in self.assigned:
                    continue  # revoked while buffered: the partition's new owner runs it
                self.run_task(msg)
                self.pending[msg.partition()] = msg.offset() + 1
                self.commit()
            self.commit(force=True)

    def close(self) -> None:
        try:
            self.commit(force=True)
            self.consumer.close()  # leave the group at once so the others rebalance now
        finally:
            self.producer.flush(5)


def worker_command(**options: str | int) -> list[str]:
    """The command line that starts one worker, e.g. ``worker_command(bootstrap=...,
    tasks=..., results=..., group=..., index=0)`` (the options of ``main``)."""
    command = [sys.executable, "-m", "distlab.engines.kafka.worker"]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--tasks", required=True, help="task topic")
    parser.add_argument("--results", required=True, help="results topic")
    parser.add_argument("--group", required=True, help="consumer group id")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--session-timeout-ms", type=int, default=3000)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when it is gone")
    parser.add_argument("--fetch-wait-ms", type=int, default=100)
    parser.add_argument("--max-task-seconds", type=int, default=3600)
    parser.add_argument("--max-message-bytes", type=int, default=64 << 20)
    worker = Worker(parser.parse_args(argv))

    def stop(signum, frame):
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.loop()
    finally:
        worker.close()


if __name__ == "__main__":
    main()
