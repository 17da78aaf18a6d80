"""Fault injection on real engines (--kill-worker, --kill-broker): the victim is a worker
seen running one of the run's tasks, re-executions are counted per task id, the record
survives a run that raises, a dead broker is named within seconds (or restarted with its
data and the cost recorded), and an engine a kill took down is restarted before the next
cell."""

from __future__ import annotations

import os
import signal
import tempfile
import time

import pytest

import distlab
from distlab.contracts import DistlabError
from distlab.contracts.tasklog import TaskLog, run_recorded
from distlab.report import fault_figures
from distlab.report.glance import glance
from distlab.report.html import faults_table
from distlab.run import matrix
from distlab.run.cell import EngineKeeper, Events, run_engine
from distlab.run.measure import run_cell
from distlab.run.model import CellFinished, EngineJob, RunSpec, decode_event
from distlab.workloads import create
from present import require_module


def _job(engine: str, workloads: list[str], *, broker: bool = False, **kw) -> EngineJob:
    return EngineJob(
        engine,
        workloads,
        "tiny",
        repeats=3,
        warmup=1,
        kill_worker=not broker,
        kill_broker=broker,
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
        matrix.validate(spec)


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
    # the faulted repetition is reported apart: never among the ranked samples
    assert fault["faulted_wall_s"] not in cell.wall["samples"]


def test_celery_kill_broker_restarts_redis_with_its_data(celery_required):
    # visibility_timeout: the messages a worker had reserved when Redis died come back
    # after it (Celery's Redis transport), so a short one keeps the test short
    job = _job("celery", ["squares"], broker=True, options={"visibility_timeout": 3})
    (cell,) = _cells(job)
    fault = cell.fault
    assert fault["killed_pid"] > 0 and fault["in_flight"] is True, fault
    assert fault["keeps_data"] is True and fault["restarted"] is True
    assert fault["restarted_pid"] != fault["killed_pid"] and fault["down_s"] >= 1.0
    assert fault["recovery_s"] > 0
    assert isinstance(fault["lost"], int) and isinstance(fault["duplicated"], int)
    if cell.status == "ok":
        assert fault["lost"] == 0
    else:  # results the worker could not store while Redis was down: counted as lost
        assert fault["lost"] > 0 and "broker" in cell.error, cell
    if "engine_broken" in fault:
        # kombu can crash the worker on an ack after the reconnection: the engine is
        # restarted, and the record says why
        assert "worker process exited" in fault["engine_broken"]
        assert fault["engine_restart"]["restart_s"] > 0


def test_celery_names_a_dead_broker_within_seconds(celery_required):
    # without an append-only file Redis cannot come back with its data: not restarted,
    # the engine names it instead of waiting for the cell timeout
    cells = _cells(_job("celery", ["jobs"], broker=True, options={"durable_broker": False}))
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
    cells = _cells(_job("kafka", ["squares"], broker=True))
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


# -- reports ----------------------------------------------------------------------------------
def _doc(*cells: dict) -> dict:
    return {"cells": list(cells), "engines": {}, "references": {}, "settings": {}}


def test_reports_show_the_faulted_repetition():
    killed = {
        "engine": "celery",
        "workload": "jobs",
        "variant": "batch",
        "status": "ok",
        "verified": True,
        "lost": 0,
        "duplicates": 1,
        "fault": {
            "kind": "worker",
            "killed_pid": 4242,
            "in_flight": True,
            "victim_observed": True,
            "lost": 0,
            "duplicated": 1,
            "recovery_s": 4.6,
        },
    }
    failed_broker = {
        "engine": "kafka",
        "workload": "jobs",
        "variant": "batch",
        "status": "failed",
        "error": "BrokerLost: the Kafka broker died",
        "fault": {
            "kind": "broker",
            "broker": "Apache Kafka 4.4.0 broker 127.0.0.1:1",
            "killed_pid": 77,
            "in_flight": True,
            "restarted": False,
            "failed_after_s": 0.04,
            "engine_restart": {"reason": "its broker died", "restart_s": 2.5},
        },
    }
    missed = {
        "engine": "local",
        "workload": "numbers",
        "variant": "batched",
        "status": "ok",
        "fault": {"kind": "worker", "in_flight": False, "error": "the run finished first"},
    }
    summary = fault_figures.fault_summary(killed)
    assert "pid 4242" in summary and "lost 0" in summary and "dup 1" in summary
    assert "recovery 4.60 s" in summary
    broken = fault_figures.fault_summary(failed_broker)
    assert "pid 77" in broken and "lost -" in broken and "run failed 40.0 ms" in broken
    assert "engine restarted in 2.50 s (its broker died)" in broken
    assert fault_figures.fault_summary(missed) == "worker fault: the run finished first"
    html = faults_table(_doc(killed, failed_broker, missed))
    assert 'id="faults"' in html and "4242" in html and "failed after 40.0 ms" in html
    assert "the run finished first" in html
    assert faults_table(_doc({**killed, "fault": None})) == ""
    # the report's first screen: a faulted row shows what was lost and duplicated
    _engines, rows = glance(_doc(killed))
    (row,) = rows
    assert row.kind == "faults"
    cell = next(iter(row.cells.values()))
    assert cell.value == 1 and cell.text == "1"  # lost 0 + 1 duplicate
