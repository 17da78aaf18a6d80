"""`distlab bench streams`: the raw pipe (the ceiling) on a real Apache Kafka broker, the
search for the highest sustained rate, and the command end to end on the kafka engine."""

from __future__ import annotations

import json

from commands import distlab
from present import require_module

require_module("confluent_kafka")  # skipped locally, failed in CI (tests/present.py)

from distlab.contracts import StreamSpec  # noqa: E402
from distlab.services.kafka.pipe import run_raw_pipe  # noqa: E402
from distlab.workloads.stream import stream_figures  # noqa: E402
from distlab.workloads.stream_search import SearchPlan, search  # noqa: E402


def test_the_raw_pipe_delivers_every_event_live():
    spec = StreamSpec(n_events=6000, rate=2000, partitions=2, timeout_s=60)
    raw = run_raw_pipe(spec)
    figures = stream_figures(spec, raw, [e[0] for e in spec.events()])
    assert figures["lost"] == 0 and figures["duplicate_arrivals"] == 0
    assert figures["unexpected_arrivals"] == 0 and raw.windows == []
    lat = figures["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] < 1000  # a live copy, not a replay at the end
    assert figures["throughput_eps"] >= 0.85 * spec.rate
    assert raw.settings["broker"]["server"].startswith("Apache Kafka 4.")


def _fake(limit: float, sender_limit: float = float("inf")):
    """A measure whose engine sustains up to ``limit`` and whose sender keeps up to
    ``sender_limit`` (the search's logic alone)."""
    tried = []

    def measure(rate: float) -> dict:
        tried.append(rate)
        valid = rate <= sender_limit
        return {"offered_rate": rate, "sustained": valid and rate <= limit, "valid": valid,
                "verified": True}  # fmt: skip

    return measure, tried


def test_search_doubles_then_bisects_to_within_ten_percent():
    measure, tried = _fake(limit=11_000)
    got = search(measure, SearchPlan(start_rate=1000))
    # a warm-up stream first, then doubling until a failure
    assert tried[:6] == [1000, 1000, 2000, 4000, 8000, 16000]
    assert got["best_rate"] <= 11_000 < got["first_failed_rate"]
    assert (got["first_failed_rate"] - got["best_rate"]) / got["best_rate"] <= 0.10
    assert got["best_rate"] >= 10_000


def test_search_in_bigger_steps_to_within_a_factor():
    """The main job's shorter search: x4 steps, then bisection to within 100%."""
    measure, tried = _fake(limit=50_000)
    got = search(measure, SearchPlan(start_rate=8000, max_rate=128_000, growth=4, precision=1.0))
    assert tried[:4] == [8000, 8000, 32_000, 128_000]
    assert got["best_rate"] <= 50_000 < got["first_failed_rate"]
    assert got["first_failed_rate"] <= 2 * got["best_rate"]
    # 8k, 32k, 128k, then 80k and 56k, and the best once more before it stands
    assert len(got["points"]) <= 6 and got["confirmed"] is True
    assert tried[-1] == got["best_rate"] and got["points"][-1]["offered_rate"] <= 128_000
    assert got["warm_up"] == "a stream at the first rate"
    # after streams on the same engine, the search needs no throw-away stream
    measure, tried = _fake(limit=50_000)
    plan = SearchPlan(start_rate=16_000, max_rate=128_000, growth=4, precision=1.0)
    got = search(measure, plan, warm=True)
    assert tried == [16_000, 64_000, 40_000, 40_000]  # the last: the confirmation
    assert got["best_rate"] == 40_000 and got["warm_up"] == "the streams just before it"
    # a best rate that does not hold a second time does not stand: the bracket drops
    measure, tried = _fake(limit=50_000)
    flaky = {"n": 0}

    def once_only(rate):
        point = measure(rate)
        if rate == 40_000:
            flaky["n"] += 1
            point = {**point, "sustained": flaky["n"] == 1}
        return point

    got = search(once_only, plan, warm=True)
    assert got["confirmed"] is False and got["first_failed_rate"] == 40_000
    assert got["best_rate"] == 16_000
    # without confirmation (the budget's first shortening), the best is measured once
    measure, tried = _fake(limit=50_000)
    got = search(measure, SearchPlan(start_rate=16_000, max_rate=128_000, growth=4,
                                     precision=1.0, confirm=False), warm=True)  # fmt: skip
    assert tried == [16_000, 64_000, 40_000] and got["confirmed"] is None


def test_search_looks_lower_and_marks_the_sender_limit():
    measure, tried = _fake(limit=300)
    got = search(measure, SearchPlan(start_rate=2000))
    assert tried[:5] == [2000, 2000, 1000, 500, 250] and 250 <= got["best_rate"] <= 300
    measure, tried = _fake(limit=10**9, sender_limit=5000)
    got = search(measure, SearchPlan(start_rate=1000))
    assert got["sender_limited"] and got["best_rate"] <= 5000 < got["first_failed_rate"]
    # a point where the sender fell behind is measured once more before it counts
    assert tried.count(8000) == 2 and tried.count(4000) == 1
    assert all(p.get("remeasured") for p in got["points"] if not p["valid"])


def test_bench_streams_command_on_the_kafka_engine(tmp_path):
    out = tmp_path / "streams.json"
    args = ["bench", "streams", "--engines", "kafka", "--seconds", "1", "--warmup", "0.5"]
    args += ["--start-rate", "1000", "--max-rate", "2000", "--out", str(out)]
    done = distlab(*args, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "raw pipe" in done.stdout and "highest sustained" in done.stdout
    rows = {r["engine"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"raw pipe", "kafka"}
    for row in rows.values():
        assert row["all_verified"] and row["points"], row
        for point in row["points"]:
            assert point["latency_ms"]["p99"] is not None and "sent_late_share" in point
    assert rows["raw pipe"]["best_rate"] == 2000  # the pipe keeps up with 2,000/s here
