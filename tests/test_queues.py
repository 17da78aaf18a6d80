"""The Redis task queues (Dramatiq, RQ, Huey, Taskiq, arq) on a real Redis: each runs the
lifecycle and task conformance suites with its own worker CLI."""

from __future__ import annotations

import json

import pytest

import distlab
from commands import distlab as run_distlab
from conformance import assert_nothing_left, engine_processes
from conformance.lifecycle import LifecycleConformance
from conformance.tasks import TaskConformance
from distlab import probes
from distlab.bench.queues import POOLS
from distlab.procs import listening_ports
from distlab.services.redis_server import RedisServer, ping


class QueueSuite(LifecycleConformance, TaskConformance):
    unreachable_address = "redis://127.0.0.1:{port}/0"


class TestRQ(QueueSuite):
    engine_name = "rq"


class TestDramatiq(QueueSuite):
    engine_name = "dramatiq"


class TestHuey(QueueSuite):
    engine_name = "huey"


class TestTaskiq(QueueSuite):
    engine_name = "taskiq"


class TestArq(QueueSuite):
    engine_name = "arq"


@pytest.mark.parametrize("name", ["dramatiq", "rq", "huey", "taskiq", "arq"])
def test_a_users_redis_is_used_and_left_running(name):
    with RedisServer() as server:
        eng = distlab.engine(name, address=server.url, workers=1)
        before = engine_processes(eng)
        with eng:
            assert eng.map(probes.square, range(5)) == [0, 1, 4, 9, 16]
            assert eng.describe()["address"] == f"redis://127.0.0.1:{server.port}"
            assert server.pid not in eng.process_roots() and eng.broker() is None
            started = engine_processes(eng) - before - {server.pid}
            ports = listening_ports(started)
        assert_nothing_left(started, ports)
        assert ping("127.0.0.1", server.port)  # the user's server is not ours to stop


def test_huey_runs_without_a_server_on_sqlite():
    with distlab.engine("huey", workers=2, storage="sqlite") as eng:
        assert eng.broker() is None and eng.describe()["broker"] == "none (no server)"
        assert eng.map(probes.square, range(6)) == [0, 1, 4, 9, 16, 25]
        assert all(listening_ports([pid]) == set() for pid in eng.process_roots())


def test_bench_queues_measures_every_queue_and_pool_through_its_own_api(tmp_path):
    out = tmp_path / "bench-queues.json"
    res = run_distlab(
        "bench", "queues", "--n", "60", "--repeats", "2", "--round-trips", "3",
        "--workers", "2", "--out", str(out), timeout=240,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["label"] for r in rows] == [row.label for row in POOLS]
    for row in rows:
        assert "error" not in row, row
        assert len(row["enqueue_s"]) == len(row["to_last_result_s"]) == 2
        assert all(
            0 < e <= t for e, t in zip(row["enqueue_s"], row["to_last_result_s"], strict=True)
        )
        assert row["round_trip_ms"]["p50"] > 0
    assert "published" in res.stdout and "dramatiq threads" in res.stdout
    bad = run_distlab("bench", "queues", "--engines", "ray")
    assert bad.returncode == 2 and "bench queues measures celery" in bad.stderr
