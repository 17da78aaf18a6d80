"""Fault injection on real engines (--kill-worker, --kill-broker, --cut-host): the victim
is a worker seen running one of the run's tasks (never an idle one), re-executions are
counted per task id, the record survives a run that raises, a dead broker is named
within seconds (or restarted with its data and the cost recorded), an engine a kill took
down is restarted before the next cell, and a fault that hit none of the run's work
reads "no fault" with the reason, a run that lost work "lost N of M"."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time

import psutil
import pytest

import distlab
from distlab.contracts import DistlabError, TaskLost
from distlab.contracts.tasklog import TaskLog, run_recorded
from distlab.report import fault_figures
from distlab.run import validate
from distlab.run.cell import EngineKeeper, Events, run_engine
from distlab.run.faults import IDLE_ONLY, WorkerKiller, idle_worker
from distlab.run.measure import run_cell
from distlab.run.model import CellFinished, CellRecord, EngineJob, RunSpec, decode_event
from distlab.workloads import create
from present import missing, require_module


def _job(engine: str, workloads: list[str], *, fault: str = "worker", **kw) -> EngineJob:
    return EngineJob(
        engine=engine,
        workloads=workloads,
        size="tiny",
        repeats=3,
        warmup=1,
        kill_worker=fault == "worker",
        kill_broker=fault == "broker",
        cut_host=fault == "cut",
        workers=2,
        **kw,
    )


def _cells(job: EngineJob) -> list:
    """Run an engine process's loop in this process; its cell records in order."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.jsonl")
        run_engine(job, Events(path))
        with open(path) as f:
            events = [decode_event(line) for line in f if line.strip()]
    return [ev.cell for ev in events if isinstance(ev, CellFinished)]


# -- the task log (no engine) ----------------------------------------------------------------
def add(a: int, b: int) -> int:
    return a + b


def test_task_log_records_starts_and_counts_reexecutions():
    log = TaskLog()
    try:
        fn, args = log.wrap(add, (1, 2))
        assert fn is run_recorded and fn(*args) == 3
        fn(*args)  # the same task id run again: a re-execution
        fn2, args2 = log.wrap(add, (3, 4))
        assert fn2(*args2) == 7
        state = log.read()
        assert log.submitted == 2 and len(state.executions) == 3
        assert state.reexecutions() == 1 and state.rerun_ids() == [0]
        assert not state.running() and state.executions[0].pid == os.getpid()
    finally:
        log.close()


def test_both_faults_at_once_are_refused():
    spec = RunSpec(engines=["local"], workloads=["squares"], kill_worker=True, kill_broker=True)
    with pytest.raises(DistlabError, match="choose one fault"):
        validate.validate(spec)


# -- the error path --------------------------------------------------------------------------
def test_a_run_that_raises_keeps_its_fault_record():
    # numbers gathers through engine.gather: the process pool's lost tasks raise TaskLost
    # out of the run, and the cell still says what was killed and when
    with distlab.engine("local", workers=2) as eng:
        wl = create("numbers", "tiny", n=400_000)
        cell = run_cell(eng, wl, "batched", _job("local", ["numbers"]))
    assert cell.status == "failed" and "TaskLost" in cell.error, cell
    fault = cell.fault
    assert fault["killed_pid"] > 0 and fault["in_flight"] is True, fault
    assert fault["victim_observed"] is True and "TaskLost" in fault["run_error"]
    assert fault["failed_after_s"] >= 0 and "recovery_s" not in fault
    # the run could not count what it lost: the task log did
    assert 0 < fault["lost"] <= fault["tasks"] and "task log" in fault["lost_counted_by"]
    verdict = fault_figures.fault_verdict(cell)
    assert verdict.happened and verdict.severity == "lost", verdict
    assert verdict.text == f"lost ≥{fault['lost']} of {fault['tasks']}", verdict
    assert "TaskLost" in verdict.reason and verdict.value == fault["lost"] + cell.duplicates


def test_a_process_pool_kill_reads_lost_n_of_m():
    # jobs counts each TaskLost as lost: the pool fails every task it held when one
    # worker dies, so the answer misses them and the cell is not verified, while its
    # figure under the fault is how many of the run's tasks were lost
    with distlab.engine("local", workers=2) as eng:
        cell = run_cell(eng, create("jobs", "tiny"), "batch", _job("local", ["jobs"]))
    fault = cell.fault
    assert cell.status == "failed" and not cell.verified and cell.lost > 0, cell
    assert cell.error.startswith("wrong answer") and f"pid {fault['killed_pid']}" in cell.error
    assert fault["in_flight"] is True and fault["victim_observed"] is True, fault
    assert cell.lost == fault["lost"] <= fault["tasks"] == 10, fault
    verdict = fault_figures.fault_verdict(cell)
    assert verdict.text == f"lost {cell.lost} of 10" and verdict.severity == "lost", verdict
    assert verdict.happened and (verdict.lost, verdict.total) == (cell.lost, 10)
    assert verdict.value == cell.lost + cell.duplicates


def test_a_fault_that_hit_nothing_is_no_fault():
    # the process pool has no broker: the cell runs unfaulted and says why
    (cell,) = _cells(_job("local", ["squares"], fault="broker"))
    assert cell.status == "ok" and cell.verified, cell
    verdict = fault_figures.fault_verdict(cell)
    assert (verdict.happened, verdict.text, verdict.severity) == (False, "no fault", "none")
    assert verdict.reason == "no broker of ours to kill: it uses no broker"
    assert verdict.value is None and verdict.lost is None
    assert fault_figures.fault_summary(cell) == (
        "broker fault: local has no broker of ours to kill: it uses no broker"
    )
    # a run that ended before the kill was due: nothing killed, the worker still there
    with distlab.engine("local", workers=2) as eng:
        workers = eng.worker_pids()
        killer = WorkerKiller(eng)
        killer.arm(expected_s=2.0)  # due half a second in
        killer.run_ended()
        record = killer.disarm(0.01)
        assert eng.worker_pids() == workers
    assert "killed_pid" not in record and record["in_flight"] is False, record
    verdict = fault_figures.fault_verdict(CellRecord("local", "squares", fault=record))
    assert not verdict.happened and verdict.text == "no fault", verdict
    assert verdict.reason == "the run finished before the kill was due"


def test_an_idle_ray_worker_is_never_the_victim():
    require_module("ray")
    with distlab.engine("ray", workers=2) as eng:
        eng.submit(abs, -1).result()
        deadline = time.monotonic() + 10
        while not all(idle_worker(p) for p in eng.worker_pids()):  # retitled after a task
            assert time.monotonic() < deadline, eng.worker_pids()
            time.sleep(0.05)
        idle = eng.worker_pids()
        # work that is not distlab's tasks, while every Ray worker waits for work
        killer = WorkerKiller(eng)
        killer.arm(expected_s=0.04)
        time.sleep(0.5)
        killer.run_ended()
        record = killer.disarm(0.5)
        assert "killed_pid" not in record and record["not_hit"] == IDLE_ONLY, record
        assert sorted(record["idle_workers_passed_over"]) == sorted(idle)
        assert all(psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in idle)
        verdict = fault_figures.fault_verdict(CellRecord("local", "squares", fault=record))
        assert not verdict.happened and verdict.reason == IDLE_ONLY, verdict
        # a worker running one of the run's tasks is still a victim
        busy = WorkerKiller(eng)
        busy.arm(expected_s=0.04, expect_tasks=True)
        pending = eng.submit(time.sleep, 2.0)
        deadline = time.monotonic() + 30
        while "killed_pid" not in busy.record and "error" not in busy.record:
            assert time.monotonic() < deadline, busy.record
            time.sleep(0.05)
        busy.run_ended()
        record = busy.disarm(None)
        with contextlib.suppress(TaskLost):  # Ray may run it again; either way it is over
            pending.result(timeout=60)
    assert record["victim_observed"] is True and record["in_flight"] is True, record
    assert "not_hit" not in record and "idle_workers_passed_over" not in record


def test_a_cut_host_without_workers_is_no_fault(tmp_path, monkeypatch):
    from distlab.hosts import netns

    if os.geteuid() != 0:
        missing("network namespaces need root")
    from distlab.run.host_cut import HostCut

    monkeypatch.setenv("DISTLAB_STATE_DIR", str(tmp_path / "state"))
    hosts = netns.up(3)
    try:
        last = hosts.hosts[-1]
        with distlab.engine("local", workers=2) as eng:
            # the pool's workers run on this machine: the last test host runs nothing
            job = _job("local", ["squares"], fault="cut")
            cell = run_cell(eng, create("squares", "tiny"), "default", job)
            squatter = subprocess.Popen(last.command(["sleep", "60"]))
            try:
                deadline = time.monotonic() + 10
                while not netns.namespace_pids(last.netns):
                    assert time.monotonic() < deadline, "nothing seen running on the host"
                    time.sleep(0.05)
                occupied = HostCut(eng).record
            finally:
                squatter.kill()
                squatter.wait()
    finally:
        netns.down()
    fault = cell.fault
    assert cell.status == "ok" and cell.verified, cell
    assert "at_s" not in fault and "down_s" not in fault, fault  # nothing was cut
    assert fault["host"] == last.name and fault["host_runs_workers"] is False, fault
    verdict = fault_figures.fault_verdict(cell)
    assert (verdict.happened, verdict.text) == (False, "no fault"), verdict
    assert verdict.reason == f"no worker on the cut host ({last.name})"
    # a host that runs something is cut
    assert occupied["host_runs_workers"] is True and "sleep" in occupied["host_processes"]
    assert "error" not in occupied and "not_hit" not in occupied, occupied


# -- Celery -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def celery_required():
    require_module("celery")


def test_celery_kill_worker_counts_the_rerun_as_a_duplicate(celery_required):
    with distlab.engine("celery", workers=2) as eng:
        cell = run_cell(eng, create("jobs", "tiny"), "batch", _job("celery", ["jobs"]))
        workers_after = eng.worker_pids()
    fault = cell.fault
    assert cell.status == "ok" and cell.verified, cell
    assert fault["in_flight"] is True and fault["victim_observed"] is True, fault
    assert fault["killed_pid"] not in workers_after  # the pool replaced the dead child
    # Celery re-runs the killed task (acks_late): one task id started twice
    assert fault["victim_task_rerun"] is True and fault["duplicated"] >= 1, fault
    assert fault["victim_task_id"] in fault["rerun_task_ids"]
    assert cell.duplicates >= 1 and cell.lost == 0 and fault["lost"] == 0
    assert fault["recovery_s"] > 0 and fault["victim_task_done_s"] > 0
    # the faulted repetition is reported apart: every measured run but the faulted ones
    # is a sample, and no sample is the faulted run's time
    samples = cell.wall["samples"]
    measured = cell.time_spent["runs"]["measured"]
    assert len(samples) == cell.wall["n"] == measured - fault.get("attempts", 1) >= 2
    assert all(round(x, 4) != fault["faulted_wall_s"] for x in samples), samples
    verdict = fault_figures.fault_verdict(cell)
    assert verdict.happened and verdict.severity == "dup" and verdict.lost == 0, verdict
    assert verdict.text == f"{cell.duplicates} dup" and verdict.value == cell.duplicates


def test_celery_kill_broker_restarts_redis_with_its_data(celery_required):
    # visibility_timeout: the messages a worker had reserved when Redis died come back
    # after it (Celery's Redis transport), so a short one keeps the test short
    job = _job("celery", ["squares"], fault="broker", options={"visibility_timeout": 3})
    (cell,) = _cells(job)
    fault = cell.fault
    assert fault["killed_pid"] > 0 and fault["in_flight"] is True, fault
    assert fault["keeps_data"] is True and fault["restarted"] is True
    assert fault["restarted_pid"] != fault["killed_pid"] and fault["down_s"] >= 1.0
    # the tasks running when Redis died ran to their end, but their results could not be
    # stored: the driver gets TaskLost for each (engines/celery/results.py), squares
    # counts them as lost, and the answer misses them
    assert cell.status == "failed" and not cell.verified, cell
    assert cell.error.startswith("wrong answer") and f"pid {fault['killed_pid']}," in cell.error
    assert 1 <= fault["lost"] == cell.lost <= job.workers, fault
    assert fault["finished"] == fault["tasks"] == 10, fault
    # the messages the worker had reserved came back only after the visibility timeout
    assert fault["recovery_s"] >= 3.0, fault
    verdict = fault_figures.fault_verdict(cell)
    assert verdict.text.startswith(f"lost {cell.lost} of 10") and verdict.severity == "lost"
    if "engine_broken" in fault:
        # kombu can crash the worker on an ack after the reconnection: the engine is
        # restarted, and the record says why
        assert "worker process exited" in fault["engine_broken"]
        assert fault["engine_restart"]["restart_s"] > 0


def test_celery_names_a_dead_broker_within_seconds(celery_required):
    # without an append-only file Redis cannot come back with its data: not restarted,
    # the engine names it instead of waiting for the cell timeout
    cells = _cells(_job("celery", ["jobs"], fault="broker", options={"durable_broker": False}))
    for cell in cells:
        fault = cell.fault
        assert cell.status == "failed" and "BrokerLost" in cell.error, cell
        assert "redis 127.0.0.1" in cell.error and fault["restarted"] is False
        assert fault["failed_after_s"] < 10, fault
        assert fault["engine_restart"]["restart_s"] > 0  # a new Redis for the next cell
    assert cells[0].fault["killed_pid"] != cells[1].fault["killed_pid"]


# -- Kafka ------------------------------------------------------------------------------------
def test_kafka_kill_broker_restarts_it_and_loses_nothing():
    """Apache Kafka keeps its log on disk: the killed broker comes back on the same port
    with its topics, the clients reconnect and resend, and no task is lost."""
    require_module("confluent_kafka")
    cells = _cells(_job("kafka", ["squares"], fault="broker"))
    for cell in cells:
        fault = cell.fault
        assert cell.status == "ok" and cell.verified, cell
        assert "Apache Kafka 4." in fault["broker"] and fault["keeps_data"] is True
        assert fault["in_flight"] is True and fault["restarted"] is True, fault
        assert fault["restarted_pid"] != fault["killed_pid"] and fault["down_s"] >= 1.0
        assert fault["lost"] == 0 and fault["recovery_s"] > 0, fault


def test_kafka_names_a_broker_that_stays_dead_within_seconds():
    require_module("confluent_kafka")
    from distlab.contracts import BrokerLost
    from distlab.engines.kafka.engine import BROKER_GRACE_S

    with distlab.engine("kafka", workers=2) as eng:
        broker = eng.broker()
        pending = eng.submit(time.sleep, 30)
        os.kill(broker.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(BrokerLost) as info:
            pending.result(timeout=60)
        assert time.monotonic() - t0 < BROKER_GRACE_S + 5
        assert f"pid {broker.pid}" in str(info.value) and "Apache Kafka" in str(info.value)
        assert eng.health() is not None  # the runner restarts it for the next cell


# -- engines a kill takes down ----------------------------------------------------------------
def test_scoop_is_restarted_after_a_worker_kill():
    require_module("scoop")
    cells = _cells(_job("scoop", ["jobs"]))
    assert len(cells) == 2
    for cell in cells:
        fault = cell.fault
        # each cell had a victim of its own, seen running one of its tasks
        assert fault["killed_pid"] > 0 and fault["victim_observed"] is True, fault
        # SCOOP does not re-run a dead worker's tasks: named as lost, never "lost 0"
        assert fault["lost"] >= 1 and cell.lost >= 1
        assert "SCOOP worker" in fault["engine_broken"]
        assert fault["engine_restart"]["restart_s"] > 0, fault
    # the second cell ran on the restarted engine (it was not refused at once)
    assert cells[1].fault["executions"] >= 2


def test_an_engine_that_cannot_be_restarted_says_so_in_every_later_cell():
    require_module("scoop")
    eng = distlab.engine("scoop", workers=2)
    eng.start()
    try:
        keeper = EngineKeeper(eng)
        assert keeper.ensure() is None  # healthy: nothing done
        os.kill(eng.worker_pids()[0], 9)
        eng.address = "127.0.0.1"  # the restart now fails: nothing answers on port 22
        deadline = time.monotonic() + 10
        record = keeper.ensure() or {}
        while not record.get("reason"):  # SCOOP's watchdog notices within a second
            assert time.monotonic() < deadline, "the dead worker went unnoticed"
            time.sleep(0.1)
            record = keeper.ensure() or {}
        assert "error" in record and keeper.dead, record
        assert "cannot run more work" in keeper.dead and "restarting it failed" in keeper.dead
        assert keeper.ensure() is None and keeper.dead  # not retried for every cell
    finally:
        eng.address = None
        eng.close()
