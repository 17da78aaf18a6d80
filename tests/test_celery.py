"""Celery on a real Redis: the conformance suite, a user-provided server, fault injection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

import distlab
from conformance import assert_nothing_left, engine_processes
from conformance.killing import events, kill_a_running_task, record_and_sleep
from conformance.lifecycle import LifecycleConformance
from conformance.tasks import TaskConformance
from distlab import probes
from distlab.contracts import DistlabError, EngineStartError, UnsatisfiableResources
from distlab.procs import free_port, listening_ports
from distlab.services.redis_server import RedisServer, ping


class TestCeleryEngine(LifecycleConformance, TaskConformance):
    engine_name = "celery"

    def test_worker_pids_are_pool_children(self, engine):
        (worker_root,) = [r for r in engine.process_roots() if r not in (engine._redis.pid,)]
        children = engine.worker_pids()
        assert len(children) == engine.workers
        assert all(psutil.Process(pid).ppid() == worker_root for pid in children)
        ran_on = set(engine.map(probes.pid_after, [0.2] * 6))
        assert ran_on <= set(children)


def test_killed_pool_child_loses_no_task(tmp_path):
    log_path = str(tmp_path / "executions.log")
    with distlab.engine("celery", workers=2) as eng:
        futures = [eng.submit(record_and_sleep, log_path, i, 1.0) for i in range(8)]
        victim_task, victim = kill_a_running_task(log_path)  # a pool child mid-task
        results = [f.result(timeout=60) for f in futures]
        deadline = time.monotonic() + 10  # the pool replaces the dead child
        while len(eng.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pool_after = eng.worker_pids()
    assert results == [i * 10 for i in range(8)]  # lost = 0, all correct and in order
    seen = events(log_path)
    starts = [t for k, t, _ in seen if k == "start"]
    assert sorted({t for k, t, _ in seen if k == "end"}) == list(range(8))
    # Exactly one task ran twice: the one the killed child was running (normally
    # victim_task; if it ended just before the kill, the next one the child took).
    duplicates = len(starts) - 8
    rerun = [t for t in set(starts) if starts.count(t) == 2]
    assert duplicates == 1 and len(rerun) == 1, seen
    first_run_pid = next(p for k, t, p in seen if k == "start" and t == rerun[0])
    assert first_run_pid == victim and rerun[0] >= victim_task, seen
    assert victim not in pool_after and len(pool_after) == 2


def unit_and_window(seconds: float) -> tuple[str, float, float]:
    from distlab.contracts import granted_units

    start = time.time()
    time.sleep(seconds)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    assert ",".join(granted_units("GPU")) == visible, (granted_units("GPU"), visible)
    return visible, start, time.time()


@pytest.mark.slow
def test_gpu_resource_queue_limits_concurrency_and_assigns_units():
    with distlab.engine("celery", workers=1, gpus=2) as eng:
        assert eng.supports_resources and eng.resource_totals() == {"GPU": 2.0}
        assert len(eng.worker_pids()) == 3  # 1 plain pool child + 2 GPU children
        futures = [eng.submit_with(unit_and_window, (0.6,), resources={"GPU": 1}) for _ in range(4)]
        runs = [f.result(timeout=60) for f in futures]
        with pytest.raises(UnsatisfiableResources):
            eng.submit_with(probes.noop, resources={"GPU": 3})
        with pytest.raises(UnsatisfiableResources):
            eng.submit_with(probes.noop, resources={"TPU": 1})
        with pytest.raises(DistlabError):
            eng.submit_with(probes.noop, resources={"GPU": 2})
        assert eng.submit(probes.add, 1, 2).result(timeout=30) == 3  # plain queue still runs
    assert {unit for unit, _, _ in runs} == {"0", "1"}
    # never more than 2 tasks at once: at every task start, count overlapping windows
    for _, start, _ in runs:
        overlapping = sum(1 for _, s, e in runs if s <= start < e)
        assert overlapping <= 2


def test_user_provided_redis_is_used_and_left_running():
    with RedisServer() as server:
        eng = distlab.engine("celery", address=server.url, workers=1)
        before = engine_processes(eng)
        with eng:
            assert eng.map(probes.square, range(5), chunksize=2) == [0, 1, 4, 9, 16]
            assert eng.describe()["address"] == f"redis://127.0.0.1:{server.port}"
            assert eng.process_roots() and server.pid not in eng.process_roots()
            started = engine_processes(eng) - before - {server.pid}
            ports = listening_ports(started)
        assert_nothing_left(started, ports)
        assert ping("127.0.0.1", server.port)  # the user's server is not ours to stop


def test_workers_started_elsewhere_serve_the_engine_given_their_queue():
    """queue=...: the engine starts no worker; a `celery worker` someone else started (as
    engines/celery/hosts.py does on each test host) runs its tasks."""
    from distlab.engines.celery.plugin import PREFETCH_MULTIPLIER, VISIBILITY_TIMEOUT_S
    from distlab.engines.celery.workers import worker_command, worker_environment
    from distlab.procs import stop_pids

    with RedisServer() as server:
        config = {"broker": server.url, "backend": server.url, "queue": "elsewhere",
                  "visibility_timeout": VISIBILITY_TIMEOUT_S,
                  "prefetch_multiplier": PREFETCH_MULTIPLIER}  # fmt: skip
        worker = subprocess.Popen(
            worker_command("elsewhere", 2, "elsewhere@%h"), env=worker_environment(config),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # and one serving the queue's GPU units (pool child i holds unit i)
        gpu_worker = subprocess.Popen(
            worker_command("elsewhere.GPU", 1, "elsewhere-gpu@%h"),
            env=worker_environment(config, "GPU"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with distlab.engine(
                "celery", address=server.url, workers=2, queue="elsewhere", gpus=1
            ) as eng:
                assert eng.process_roots() == [] and eng.worker_pids() == []
                assert eng.map(probes.square, range(6)) == [0, 1, 4, 9, 16, 25]
                pids = set(eng.map(probes.pid_after, [0.2] * 4))
                children = {c.pid for c in psutil.Process(worker.pid).children()}
                assert pids and pids <= children  # run by the worker started here
                gpu = eng.submit_with(probes.pid_after, (0.0,), resources={"GPU": 1}).result(30)
                assert gpu in {c.pid for c in psutil.Process(gpu_worker.pid).children()}
            assert worker.poll() is None and gpu_worker.poll() is None  # not the engine's
        finally:
            stop_pids([worker.pid, gpu_worker.pid], grace=10.0)
            worker.wait(10)
            gpu_worker.wait(10)


def test_dead_worker_is_reported_not_waited_for():
    with distlab.engine("celery", workers=1) as eng:
        future = eng.submit(probes.pid_after, 30)
        (worker_root,) = [pid for pid in eng.process_roots() if pid != eng._redis.pid]
        time.sleep(0.5)
        os.kill(worker_root, signal.SIGKILL)  # the pool children die with it (pdeathsig)
        t0 = time.monotonic()
        with pytest.raises(DistlabError, match="worker exited"):
            future.result(timeout=20)
        assert time.monotonic() - t0 < 5


DRIVER_SCRIPT = """
import sys, time, distlab
eng = distlab.engine("celery", address=sys.argv[1], workers=1).start()
print(" ".join(map(str, eng.process_roots() + eng.worker_pids())), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_worker_exits_when_its_driver_is_killed():
    with RedisServer() as server:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER_SCRIPT, server.url], stdout=subprocess.PIPE, text=True
        )
        try:
            worker_pids = {int(pid) for pid in driver.stdout.readline().split()}
            assert len(worker_pids) == 2  # the worker and its pool child
        finally:
            driver.kill()  # no close(), no exit hooks
            driver.wait()
            driver.stdout.close()
        assert_nothing_left(worker_pids, set(), timeout=30)


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_unreachable_address_fails_fast(scheme):
    address = f"{scheme}://127.0.0.1:{free_port()}/0"
    t0 = time.monotonic()
    with pytest.raises(EngineStartError) as info:
        distlab.engine("celery", address=address).start()
    assert time.monotonic() - t0 < 10
    assert "\n" not in str(info.value) and "cannot reach" in str(info.value)


@pytest.mark.parametrize("address", ["http://127.0.0.1:1/", "redis://127.0.0.1:notaport/0"])
def test_bad_address_is_refused(address):
    with pytest.raises(EngineStartError):
        distlab.engine("celery", address=address).start()
