"""The stream's load generator: the paced sender, in a process of its own.

It never shares an interpreter with the sink reader (whose thread parses every sink
message and would otherwise hold the GIL while an event is due) nor with an engine that
runs in the driver. ``python -m distlab.services.kafka.sender`` takes the spec as JSON,
gets everything ready (its events, a producer that has delivered once), prints ``ready``
and waits for a line on its standard input before it starts the clock: the driver starts
it while the engine's processors start, and says go once they read. It prints ``t0
<perf_counter>`` just before the first send (perf_counter is CLOCK_MONOTONIC on Linux,
one clock for every process of the machine), and once done a last line of JSON with the
pacer's figures. :class:`SenderProcess` is the driver's handle on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

from distlab.contracts import DistlabError, StreamSpec
from distlab.contracts.pacing import Pacer, collector_paused
from distlab.contracts.streams import end_marker, payloads, send_paced
from distlab.services.kafka.clients import ReliableProducer

#: the sender's own client settings: librdkafka's default linger (5 ms) instead of the
#: stream clients' 1 ms; at 128,000 events/s its client thread used 0.55 of a core instead of
#: 0.77 on the saturated 2 cores here, CPU the engines under test need more
SENDER_SETTINGS = {"linger.ms": 5}
#: the sender's scheduling priority (nice), when the system lets it be raised
SENDER_NICE = -10


def send_stream(
    bootstrap: str,
    topic: str,
    spec: StreamSpec,
    partitions: int,
    on_start: Callable[[float], None],
    control_topic: str | None = None,
    when_ready: Callable[[], None] | None = None,
) -> Pacer:
    """Send every event to partition ``key % partitions`` of ``topic`` at its intended
    time (contracts.streams.send_paced, which hands the stream's t0 to ``on_start``
    before the first send); return the pacer (how far and how often it fell behind
    schedule). End markers go to every partition at the end (they close the
    last windows)."""
    lines = payloads(spec)  # generated before the clock starts
    targets = [key % partitions for _eid, key, _value, _t in spec.events()]
    # no resending, and the idempotent producer: each partition's events must stay in
    # event-time order (engines with a zero-delay watermark would drop one out of order)
    producer = ReliableProducer(bootstrap, resend=False, in_order=True, **SENDER_SETTINGS)
    if control_topic is not None:
        # an idempotent producer first gets a producer id from the broker (0.5-1 s here):
        # that happens now, with a first delivery, not during the stream
        producer.send(control_topic, b"ready", 0)
        producer.flush(30)
    produce = producer.producer.produce  # the hot path: no wrapper call per event

    def send_run(i: int, j: int) -> None:
        for k in range(i, j):
            try:
                produce(topic, lines[k], partition=targets[k])
            except BufferError:
                producer.send(topic, lines[k], targets[k])  # waits for room

    if when_ready is not None:
        when_ready()  # e.g. wait for the driver's go
    # idle: serve delivery reports while waiting for the next event's time
    with collector_paused():
        pacer = send_paced(spec, send_run, on_start=on_start, idle=producer.poll)
    producer.poll(0)
    marker = end_marker(spec).encode()
    for p in range(partitions):
        producer.send(topic, marker, p)
    producer.flush(30)
    return pacer


class SenderProcess:
    """The sender of one stream, started at once and made ready; ``go()`` starts its
    clock, ``wait_started`` gives ``t0``, ``finish()`` its pacer's figures (raises
    DistlabError if it failed)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        spec: StreamSpec,
        partitions: int,
        control_topic: str | None = None,
    ):
        command = [sys.executable, "-m", "distlab.services.kafka.sender", bootstrap, topic]
        command += [str(partitions), json.dumps(spec.to_dict()), control_topic or ""]
        self.t0: float | None = None
        self.figures: dict | None = None
        self._started = threading.Event()
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._reader = threading.Thread(target=self._read, name="distlab-sender", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._process.stdout:
            if line.startswith(b"t0 "):
                self.t0 = float(line.split()[1])
                self._started.set()
            elif line.startswith(b"{"):
                self.figures = json.loads(line)
        self._started.set()  # the process ended (with or without starting)

    def go(self) -> None:
        """Start the stream's clock (the sender sends as soon as it is ready)."""
        with contextlib.suppress(OSError):  # it died: finish() says why
            self._process.stdin.write(b"go\n")
            self._process.stdin.close()

    def wait_started(self, timeout: float) -> float:
        """The stream's t0 (perf_counter), once the sender's clock started."""
        if not self._started.wait(timeout) or self.t0 is None:
            self.finish(0)
        return self.t0

    def finish(self, timeout: float) -> dict:
        """Wait for the last send; {worst_lag_s, late_share, last_lag_s, nice}."""
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(timeout=5)
        if self._process.returncode == 0 and self.figures is not None:
            return self.figures
        self.kill()
        why = (self._process.stderr.read() or b"").decode(errors="replace").strip()
        last = why.splitlines()[-1] if why else "no output"
        raise DistlabError(f"the stream's sender failed or did not finish in time ({last})")

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)

    def close(self) -> None:
        self.kill()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            with contextlib.suppress(OSError):
                stream.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("partitions", type=int)
    parser.add_argument("spec", help="the StreamSpec as JSON")
    parser.add_argument("control_topic", help="'' for none")
    args = parser.parse_args(argv)
    spec = StreamSpec(**json.loads(args.spec))
    nice = _raise_priority()

    def on_start(t0: float) -> None:
        print(f"t0 {t0!r}", flush=True)

    def when_ready() -> None:
        print("ready", flush=True)
        sys.stdin.readline()  # the driver's go (or its end: then the stream runs anyway)

    try:
        pacer = send_stream(
            args.bootstrap,
            args.topic,
            spec,
            args.partitions,
            on_start,
            args.control_topic or None,
            when_ready,
        )
    except DistlabError as exc:
        sys.exit(f"{exc}")
    figures = {"worst_lag_s": pacer.worst_lag_s, "late_share": pacer.late_share}
    print(json.dumps({**figures, "last_lag_s": pacer.last_lag_s, "nice": nice}))


def _raise_priority() -> int:
    """Run ahead of the engine under test (as a load generator on a machine of its own
    would): on 2 cores an engine's busy JVM or workers otherwise delay the sends, and
    the engine's own slowness would be blamed on the sender. Needs root (or
    CAP_SYS_NICE); without it the priority stays as it was. Returns the nice value."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, SENDER_NICE)
    return os.getpriority(os.PRIO_PROCESS, 0)


if __name__ == "__main__":
    main()
