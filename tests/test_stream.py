"""W7 stream: exact windows against the plain-Python golden, latency percentiles from
intended send times, on real engines (an embedded Tansu broker, a local Spark)."""

from __future__ import annotations

import importlib.util

import pytest

import distlab
from distlab.workloads import create
from distlab.workloads.stream import StreamSpec, golden_windows


def test_golden_counts_only_passing_events_per_key_and_window():
    events = [(0, 1, 500, 0), (1, 1, 100, 10), (2, 2, 300, 999), (3, 1, 700, 1000)]
    assert golden_windows(events, 1000, 200) == {
        (1, 0): (1, 500),
        (2, 0): (1, 300),
        (1, 1000): (1, 700),
    }


def test_events_are_deterministic_and_paced_by_event_time():
    spec = StreamSpec(n_events=100, rate=50)
    assert spec.events() == spec.events()
    assert spec.events()[50][3] == 1000 and spec.intended_s(50) == 1.0


def test_a_wrong_window_fails_verification():
    wl = create("stream", "tiny")
    golden = wl.reference()
    key = next(iter(golden))
    bad = {key: dict(golden[key])}
    first = next(iter(bad[key]))
    count, total = bad[key][first]
    bad[key][first] = (count, total + 1)
    ok, detail = wl.verify(distlab.workloads.RunOutput(bad, n_tasks=1), "fixed_rate")
    assert not ok and "wrong count/sum" in detail


def _check_run(engine_name: str):
    wl = create("stream", "tiny")
    with distlab.engine(engine_name, workers=2) as eng:
        out = wl.run(eng, "fixed_rate")
    ok, detail = wl.verify(out, "fixed_rate")
    assert ok, detail
    m = out.metrics
    assert m["windows_checked"] == len(next(iter(wl.reference().values())))
    assert m["lost"] == 0 and m["passed_filter"] > 0
    lat = m["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"]
    assert 0 < len(m["latency_samples_ms"]) <= 2000
    assert m["throughput_eps"] > 0 and m["offered_rate"] == 1000
    return out


@pytest.mark.skipif(not importlib.util.find_spec("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_stream_tiny_exact_windows_and_percentiles():
    out = _check_run("kafka")
    assert out.metrics["latency_ms"]["p50"] < 1000  # a live pipeline, not a batch replay


@pytest.mark.skipif(not importlib.util.find_spec("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_processors_each_write_their_own_sink_partition():
    """Several producers appending to one partition can hide a batch from Tansu's live
    readers: processor p must write sink partition p only, and the reader must read all."""
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from distlab.contracts.streams import expected_counts
    from distlab.engines.kafka.stream import start_processor
    from distlab.services.kafka.harness import StreamTopics, drive

    spec = StreamSpec(n_events=400, rate=2000, partitions=3, timeout_s=30)
    with StreamTopics(None, spec.partitions) as topics:
        for p in range(spec.partitions):  # processor threads in this process
            start_processor(topics.bootstrap, topics.names, p, spec.to_dict())
        raw = drive(topics.bootstrap, spec, topics.names, spec.partitions, announced=True)
        assert len(raw.arrivals) == expected_counts(spec)[0]
        consumer = Consumer(
            {"bootstrap.servers": topics.bootstrap, "group.id": "check", "log_level": 0}
        )
        sinks = ("sink_events", "sink_windows")
        consumer.assign(
            [
                TopicPartition(topics.names[sink], p, OFFSET_BEGINNING)
                for sink in sinks
                for p in range(spec.partitions)
            ]
        )
        keys_by_event = {e: k for e, k, _, _ in spec.events()}
        seen, deadline = 0, time.monotonic() + 10
        wanted = len(raw.arrivals) + len(raw.windows)
        while seen < wanted and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            first = int(msg.value().split(b",")[0])
            if msg.topic() == topics.names["sink_windows"]:
                seen += 1
                assert first % spec.partitions == msg.partition()  # the key's partition
            elif first >= 0:
                seen += 1
                assert keys_by_event[first] % spec.partitions == msg.partition()
        consumer.close()
        assert seen == wanted


@pytest.mark.skipif(not importlib.util.find_spec("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_sweep_reports_the_highest_sustained_rate():
    wl = create("stream", "tiny", sweep_rates=(500, 1000))
    with distlab.engine("kafka", workers=2) as eng:
        out = wl.run(eng, "sweep")
    ok, detail = wl.verify(out, "sweep")
    assert ok, detail
    assert out.metrics["max_sustained_rate"] in (None, 500.0, 1000.0)
    assert [p["offered_rate"] for p in out.metrics["sweep"]][0] == 500.0


@pytest.mark.slow
@pytest.mark.skipif(not importlib.util.find_spec("pyspark"), reason="no pyspark")
def test_spark_stream_tiny_exact_windows_and_percentiles():
    _check_run("spark")


# Runs inside Flink's own environment (apache-flink cannot live in the main one): one
# fixed-rate stream on an embedded mini-cluster and broker, then close() and a check that
# no child process is left, reported as one JSON line.
FLINK_STREAM = r"""
import json, time
import psutil
import distlab
from distlab.workloads import create

def main():
    wl = create("stream", "tiny")
    began = time.perf_counter()
    with distlab.engine("flink", workers=2) as eng:
        out = wl.run(eng, "fixed_rate")
    seconds = time.perf_counter() - began
    deadline = time.monotonic() + 20
    while psutil.Process().children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    (key, windows), = out.result.items()
    metrics = {k: v for k, v in out.metrics.items() if k != "latency_samples_ms"}
    print(json.dumps({
        "key": list(key), "windows": [[k, w, c, s] for (k, w), (c, s) in windows.items()],
        "lost": out.lost, "metrics": metrics,
        "samples": len(out.metrics["latency_samples_ms"]), "seconds": seconds,
        "left": [p.pid for p in psutil.Process().children(recursive=True)],
    }))

if __name__ == "__main__":
    main()
"""


def test_flink_stream_tiny_exact_windows_and_percentiles():
    import json
    import subprocess

    from distlab.contracts import DistlabError
    from distlab.engines.flink import env as flink_env
    from distlab.engines.flink.engine import FlinkEngine
    from distlab.workloads import RunOutput

    reason = flink_env.unavailable_reason()
    if reason:
        pytest.skip(f"Flink environment unavailable: {reason}")
    try:
        python = FlinkEngine.interpreter()
    except DistlabError as exc:
        pytest.skip(f"Flink environment could not be created: {exc}")
    done = subprocess.run([python, "-c", FLINK_STREAM], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # the windows are checked here, against the golden of the main environment
    wl = create("stream", "tiny")
    windows = {(k, w): (c, s) for k, w, c, s in got["windows"]}
    ok, detail = wl.verify(RunOutput({tuple(got["key"]): windows}, n_tasks=1, lost=got["lost"]), "fixed_rate")
    assert ok, detail
    m = got["metrics"]
    assert m["windows_checked"] == len(next(iter(wl.reference().values())))
    assert m["lost"] == 0 and m["passed_filter"] > 0 and 0 < got["samples"] <= 2000
    lat = m["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"]
    assert lat["p50"] < 1000  # a live pipeline, not a batch replay
    assert m["throughput_eps"] > 0 and m["offered_rate"] == 1000
    assert "Flink SQL" in m["notes"]
    assert got["left"] == []  # the JVM and the broker are gone
