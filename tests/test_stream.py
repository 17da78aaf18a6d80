"""W7 stream: exact windows against the plain-Python golden, latency percentiles from
intended send times, on real engines (an embedded Apache Kafka broker, a local Spark)."""

from __future__ import annotations

import pytest

import distlab
from distlab.contracts.streams import FINAL, LAST_IS_FINAL, TOP_N, StreamResult, golden
from distlab.workloads import RunOutput, create
from distlab.workloads.stream import SinkOutput, StreamSpec
from present import has_module, missing


class _AtLeastOnceSink:
    """A real Kafka engine's stream whose sink then delivers once more, as an
    at-least-once sink may: its first window emission and the pass-through of one event
    the filter dropped (``run_stream`` wraps the real one; nothing else is changed)."""

    def __init__(self, engine):
        self.engine = engine

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def run_stream(self, spec: StreamSpec) -> StreamResult:
        raw = self.engine.run_stream(spec)
        dropped = next(e for e, _k, v, _t in spec.events() if v < spec.filter_min)
        raw.windows.append(raw.windows[0])
        raw.arrivals[dropped] = raw.elapsed_s
        return raw


@pytest.mark.skipif(not has_module("confluent_kafka"), reason="no confluent-kafka")
def test_a_repeated_window_and_a_filtered_event_at_the_sink_fail_the_run():
    """End to end through the workload (where windows used to become a dict and stray
    ids were ignored): a real stream, one repeated window, one id that was filtered out."""
    wl = create("stream", "tiny")
    with distlab.engine("kafka", workers=2) as eng:
        out = wl.run(_AtLeastOnceSink(eng), "fixed_rate")
    ok, detail = wl.verify(out, "fixed_rate")
    assert not ok and "emitted more than once" in detail, detail
    (sink,) = out.result.values()
    assert sink.unexpected_ids and out.metrics["unexpected_arrivals"] == 1
    sink.windows.pop()  # without the repeat, the stray id still fails it
    ok, detail = wl.verify(out, "fixed_rate")
    assert not ok and "should not have" in detail, detail


def _check_top_n(wl, eng) -> RunOutput:
    out = wl.run(eng, TOP_N)
    ok, detail = wl.verify(out, TOP_N)
    assert ok, detail
    (sink,) = out.result.values()
    assert sink.window_updates == FINAL  # each window ranked once, when it closed
    assert out.metrics["window_emissions"] == out.metrics["windows_checked"] > 0
    assert out.metrics["lost"] == 0 and out.metrics["unexpected_arrivals"] == 0
    return out


def _check_run(engine_name: str, top_n: bool = False):
    wl = create("stream", "tiny")
    try:
        with distlab.engine(engine_name, workers=2) as eng:
            out = wl.run(eng, "fixed_rate")
            if top_n:
                _check_top_n(wl, eng)
    finally:
        wl.close()  # the broker it started for an engine without a Kafka of its own
    ok, detail = wl.verify(out, "fixed_rate")
    assert ok, detail
    m = out.metrics
    assert m["windows_checked"] == len(golden(wl.spec()))
    assert m["window_emissions"] >= m["windows_checked"]
    assert m["unexpected_arrivals"] == 0 and m["duplicate_arrivals"] == out.duplicates
    assert m["lost"] == 0 and m["passed_filter"] > 0
    lat = m["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"]
    assert 0 < len(m["latency_samples_ms"]) <= 2000
    assert m["latency_samples_ms"] == sorted(m["latency_samples_ms"])
    assert m["latency_samples_ms"][0] <= lat["p50"] <= m["latency_samples_ms"][-1]
    # a pipeline that keeps up delivers at about the offered rate: a stall would halve it
    assert m["offered_rate"] == 1000 and 500 <= m["throughput_eps"] <= 10_000
    return out


@pytest.mark.skipif(not has_module("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_stream_tiny_exact_windows_top_n_and_percentiles():
    out = _check_run("kafka", top_n=True)
    # one source partition per processor, as the other engines hosting these processors
    # (not the task topic's two per worker: each consumer read two, each batch halved)
    settings = out.metrics["engine_settings"]
    assert settings["partitions"] == settings["processors"] == 2
    assert out.metrics["latency_ms"]["p50"] < 1000  # a live pipeline, not a batch replay
    (sink,) = out.result.values()  # windows closed by the processors: each emitted once
    assert sink.window_updates == FINAL
    assert out.metrics["window_emissions"] == out.metrics["windows_checked"]
    assert out.metrics["engine_settings"]["broker"]["server"].startswith("Apache Kafka 4.")


@pytest.mark.skipif(not has_module("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_processors_write_sinks_partitioned_like_the_source():
    """A processor writes each event to the sink partition it came from (the sinks are
    partitioned like the source), also one that reads several partitions, and the
    driver's reader reads every sink partition."""
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from distlab.contracts.streams import expected_counts
    from distlab.engines.kafka.stream import start_processor
    from distlab.services.kafka.harness import StreamTopics, drive
    from distlab.services.kafka.processor import spread

    spec = StreamSpec(n_events=400, rate=2000, partitions=3, timeout_s=30)
    with StreamTopics(None, spec.partitions) as topics:
        shares = spread(spec.partitions, 2)
        assert shares == [[0, 2], [1]]
        for share in shares:  # processor threads in this process
            start_processor(topics.bootstrap, topics.names, share, spec.to_dict())
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


@pytest.mark.skipif(not has_module("confluent_kafka"), reason="no confluent-kafka")
def test_kafka_sweep_searches_the_highest_sustained_rate():
    wl = create("stream", "tiny", sweep_start_rate=500, sweep_max_rate=1000, sweep_seconds=1)
    with distlab.engine("kafka", workers=2) as eng:
        out = wl.run(eng, "sweep")
    ok, detail = wl.verify(out, "sweep")
    assert ok, detail
    m, plan = out.metrics, wl.search_plan()
    points = m["sweep"]
    rates = [p["offered_rate"] for p in points]
    assert rates == sorted(rates) and rates[0] in (250.0, 500.0)
    for p in points:
        # each point's verdict is the stated rule applied to its own figures
        rule = (
            p["valid"]
            and p["verified"]
            and p["lost"] == 0
            and p["throughput_eps"] >= 0.95 * p["offered_rate"]
            and p["latency_ms"]["p99"] is not None
            and p["latency_ms"]["p99"] < plan.p99_bound_ms
        )
        assert p["sustained"] == rule, p
        assert p["verified"], p.get("problem")  # exact at every point
        span_ms = 1e3 * p["events"] / p["offered_rate"]
        on_time = p["sent_late_share"] <= 0.05 and p["send_last_lag_ms"] <= max(5, span_ms / 100)
        assert p["valid"] == on_time
        assert 0 < p["throughput_eps"] <= 10 * p["offered_rate"]
        assert 0 < p["latency_ms"]["p50"] <= p["latency_ms"]["p99"] <= p["latency_ms"]["p99.9"]
        assert p["events"] == plan.n_events(p["offered_rate"])
    # Kafka sustains 1,000 events/s here (p99 ~20 ms on a 2-core machine); the search
    # stops at the plan's highest rate and says which plan it ran
    sustained = [p["offered_rate"] for p in points if p["sustained"]]
    assert m["max_sustained_rate"] == max(sustained) == 1000.0
    assert m["at_best"]["offered_rate"] == 1000.0
    assert "x4 steps from 500 events/s" in m["search"]
    assert m["windows_checked"] == sum(p["windows_checked"] for p in points)
    # the highest sustained rate was measured once more before it stood
    again = [p for p in points if p.get("confirming")]
    assert m["confirmed"] is True and [p["offered_rate"] for p in again] == [1000.0]
    assert len(out.result) == len(rates)  # every point's sinks kept for the check


def test_a_fixed_rate_figure_is_the_median_of_independent_trials():
    wl = create("stream", "tiny", trials=3, n_events=1000)
    with distlab.engine("kafka", workers=2) as eng:
        out = wl.run(eng, "fixed_rate")
    ok, detail = wl.verify(out, "fixed_rate")
    assert ok, detail
    assert len(out.result) == 3  # each trial's windows checked against the golden
    m = out.metrics
    assert m["trials"] == 3 and len(m["per_trial"]) == 3
    p99s = sorted(t["latency_ms"]["p99"] for t in m["per_trial"])
    assert m["latency_ms"]["p99"] == p99s[1] and m["latency_spread_ms"]["p99"] == [p99s[0], p99s[2]]
    assert out.n_tasks == 3000 and m["lost"] == 0


@pytest.mark.slow
@pytest.mark.skipif(not has_module("pyspark"), reason="no pyspark")
def test_spark_stream_tiny_exact_windows_top_n_and_percentiles():
    out = _check_run("spark", top_n=True)
    # update mode: every running total comes back, the last per window is the final one
    (sink,) = out.result.values()
    assert sink.window_updates == LAST_IS_FINAL
    assert out.metrics["window_emissions"] >= out.metrics["windows_checked"]
    assert "update mode: the last of" in create("stream", "tiny").verify(out, "fixed_rate")[1]
    # Spark's own Kafka source and sink, on the same Apache Kafka broker as the others
    settings = out.metrics["engine_settings"]
    assert settings["broker"]["server"].startswith("Apache Kafka 4.")
    assert "spark-sql-kafka" in settings["connector"]


# Runs inside Flink's own environment (apache-flink cannot live in the main one): one
# fixed-rate stream on an embedded mini-cluster and broker, then close() and a check that
# no child process is left, reported as one JSON line.
FLINK_STREAM = r"""
import json, time
import psutil
import distlab
from distlab.contracts.streams import golden, passing_ids
from distlab.workloads import create
from distlab.workloads.stream import check_sink, stream_figures

def main():
    wl = create("stream", "tiny")
    began = time.perf_counter()
    with distlab.engine("flink", workers=2) as eng:
        out = wl.run(eng, "fixed_rate")
        top = wl.run(eng, "top_n")
        # the rates at which Flink's windows once came out wrong (a retried producer batch
        # out of event-time order at 20,000/s; a watermark at the newest event time at
        # 96,000/s dropped the rest of a window's last millisecond): 2 ms windows put a
        # window's end at every other millisecond, where each watermark lands
        fast_spec = create("stream", "tiny", window_ms=2).spec(rate=20000, n_events=40000)
        fast = stream_figures(fast_spec, eng.run_stream(fast_spec), passing_ids(
            fast_spec.events(), fast_spec.filter_min))
        fast_problem = check_sink(fast.pop("sink"), golden(fast_spec))
        fast_windows = fast["windows_checked"]
    wl.close()  # the broker the workload started for its streams
    seconds = time.perf_counter() - began
    deadline = time.monotonic() + 20
    while psutil.Process().children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    (key, sink), = out.result.items()
    metrics = {k: v for k, v in out.metrics.items() if k != "latency_samples_ms"}
    print(json.dumps({
        "key": list(key), "windows": [list(e) for e in sink.windows],
        "window_updates": sink.window_updates, "unexpected_ids": sink.unexpected_ids,
        "lost": out.lost, "duplicates": out.duplicates, "metrics": metrics,
        "samples": len(out.metrics["latency_samples_ms"]), "seconds": seconds,
        "fast": {"problem": fast_problem, "lost": fast["lost"], "windows": fast_windows},
        "top_n": {"key": list(next(iter(top.result))), "lost": top.lost,
                  "rows": [list(e) for s in top.result.values() for e in s.windows],
                  "window_updates": next(iter(top.result.values())).window_updates},
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
        missing(f"Flink environment unavailable: {reason}")
    try:
        python = FlinkEngine.interpreter()
    except DistlabError as exc:
        missing(f"Flink environment could not be created: {exc}")
    done = subprocess.run([python, "-c", FLINK_STREAM], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # the windows are checked here, against the golden of the main environment
    wl = create("stream", "tiny")
    sink = SinkOutput(
        [tuple(e) for e in got["windows"]], got["window_updates"], got["unexpected_ids"]
    )
    output = RunOutput(
        {tuple(got["key"]): sink}, n_tasks=1, lost=got["lost"], duplicates=got["duplicates"]
    )
    ok, detail = wl.verify(output, "fixed_rate")
    assert ok, detail
    assert got["window_updates"] == FINAL  # Flink emits each window once, when it closes
    m = got["metrics"]
    assert m["windows_checked"] == len(golden(wl.spec()))
    assert m["lost"] == 0 and m["passed_filter"] > 0 and 0 < got["samples"] <= 2000
    lat = m["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"]
    assert lat["p50"] < 1000  # a live pipeline, not a batch replay
    assert m["offered_rate"] == 1000 and 500 <= m["throughput_eps"] <= 10_000
    assert "Flink SQL" in m["notes"]
    settings = m["engine_settings"]  # Flink's Kafka SQL connector from Maven Central
    assert settings["broker"]["server"].startswith("Apache Kafka 4.")
    assert settings["connector"].startswith("flink-sql-connector-kafka-")
    assert got["left"] == []  # the JVM and the broker are gone
    # the second query: Flink's window Top-N over HOP windows, each window ranked once
    top = got["top_n"]
    sink = SinkOutput([tuple(e) for e in top["rows"]], top["window_updates"])
    ok, detail = wl.verify(RunOutput({tuple(top["key"]): sink}, n_tasks=1), "top_n")
    assert ok, detail
    assert top["window_updates"] == FINAL and top["lost"] == 0
    fast = got["fast"]  # 20,000 events/s through 2 ms windows
    assert fast["problem"] is None and fast["lost"] == 0 and fast["windows"] > 5000, fast


def test_stream_cells_of_an_engine_without_kafka_share_one_warmed_broker():
    """Ray and Dask stream through a broker distlab starts: one for all of the stream
    workload's cells on that engine (started and warmed by the first), stopped by close()."""
    import psutil

    import distlab
    from distlab.workloads import create

    wl = create("stream", "tiny", n_events=400, rate=1000)
    with distlab.engine("dask", workers=2) as eng:
        try:
            for variant in ("fixed_rate", "top_n"):
                out = wl.run(eng, variant)
                assert wl.verify(out, variant)[0]
            broker = wl._broker
            pid = broker.pid
            assert pid and psutil.pid_exists(pid)
            assert broker.warmed_up  # before the first stream was measured
            bootstrap = broker.bootstrap
            assert wl.spec_for(eng).bootstrap == bootstrap  # the same broker again
            # recorded as distlab's own broker, not a user's cluster
            assert out.metrics["engine_settings"]["broker"]["server"].startswith("Apache Kafka")
        finally:
            wl.close()
        assert wl._broker is None and not psutil.pid_exists(pid)


def test_a_run_streams_through_one_broker_of_its_own_outside_the_engines(tmp_path):
    """`distlab run` starts one broker for the run's streams: Dask's cells and the raw
    pipe go through it (recorded as distlab's, with its address), the Kafka engine keeps
    its own broker, and the run's broker is gone once the run has returned."""
    import socket

    from distlab.run import matrix
    from distlab.run.model import RunSpec

    params = {"stream": {"n_events": 400, "rate": 1000, "sweep_start_rate": 500,
                         "sweep_max_rate": 1000, "sweep_seconds": 1}}  # fmt: skip
    spec = RunSpec(engines=["dask", "kafka"], workloads=["stream"], size="tiny", params=params)
    doc = matrix.run(spec, tmp_path)
    cells = {(c.engine, c.variant): c for c in doc.cells}
    assert all(c.status == "ok" and c.verified for c in cells.values()), cells
    raw = doc.references["stream"].runs["raw pipe"].metrics["at_best"]
    shared = raw["engine_settings"]["broker"]
    assert shared["server"].startswith("Apache Kafka 4.") and shared["shared"]
    for variant in ("fixed_rate", "top_n"):
        dask = cells[("dask", variant)].metrics["engine_settings"]["broker"]
        assert dask["bootstrap"] == shared["bootstrap"]
        # the search just before warmed the same Dask workers: no warm-up stream
        assert cells[("dask", variant)].time_spent["runs"] == {"warmup": 0, "measured": 1}
        kafka = cells[("kafka", variant)].metrics["engine_settings"]["broker"]
        assert kafka["server"].startswith("Apache Kafka 4.") and "shared" not in kafka
    assert cells[("dask", "sweep")].metrics["warm_up"] == "a stream at the first rate"
    host, port = shared["bootstrap"].rsplit(":", 1)
    with socket.socket() as s:
        assert s.connect_ex((host, int(port))) != 0  # stopped with the run
