"""What a fault did, in report form (report/fault_figures.py): the verdict of each kind of
fault record the run writes, and the report's tables and first screen built from them.
Records are written here as the fault modules write them: the rules are checked exactly."""

from __future__ import annotations

from distlab.report import fault_figures
from distlab.report.glance import glance
from distlab.report.html import faults_table
from distlab.run.faults import AFTER_RUN
from docs import cell as as_cell
from docs import document


# -- reports ----------------------------------------------------------------------------------
def _doc(*cells: dict):
    return document(cells, settings={})


def test_fault_verdicts_of_the_records_faults_write():
    def verdict(record: dict, **cell) -> tuple:
        v = fault_figures.fault_verdict(as_cell({"engine": "local", "workload": "squares",
                                                 "status": "ok", "lost": 0, "duplicates": 0,
                                                 **cell, "fault": record}))  # fmt: skip
        return v.happened, v.text, v.severity, v.value, v.reason

    hit = {"kind": "worker", "killed_pid": 7, "at_s": 0.1, "in_flight": True, "tasks": 10,
           "victim_observed": True, "lost": 0, "duplicated": 0}  # fmt: skip
    assert verdict(hit) == (True, "0", "clean", 0.0, "")
    late = (False, "no fault", "none", None, AFTER_RUN)
    assert verdict({**hit, "in_flight": False, "not_hit": AFTER_RUN}) == late
    # results files from before ``not_hit``: the same, from what the record says
    assert verdict({**hit, "in_flight": False}) == late
    no_broker = {"kind": "broker", "error": "dask has no broker of ours to kill: it uses no broker"}
    assert verdict(no_broker) == (False, "no fault", "none", None, no_broker["error"])
    assert verdict({"kind": "host cut", "host": "h4", "in_flight": True})[1] == "no fault"
    cut = {"kind": "host cut", "host": "h2", "at_s": 0.2, "in_flight": True, "down_s": 5.0,
           "host_runs_workers": True, "tasks": 10, "lost": 0, "duplicated": 2}  # fmt: skip
    assert verdict(cut, duplicates=2)[:4] == (True, "2 dup", "dup", 2.0)
    lost = {**hit, "lost": 3, "duplicated": 1}
    wrong = {"status": "failed", "verify_detail": "3 of 10 results missing or wrong"}
    assert verdict(lost, lost=3, duplicates=1, **wrong)[:4] == (
        True, "lost 3 of 10, 1 dup", "lost", 4.0)  # fmt: skip
    uncounted = {**hit, "lost": None, "duplicated": None, "run_error": "BrokerLost: redis died"}
    failed = verdict(uncounted, status="failed")
    assert failed[:4] == (True, "run failed", "lost", None) and "redis died" in failed[4]
    assert verdict(hit, **wrong)[1:3] == ("wrong answer", "lost")  # nothing counted lost
    assert fault_figures.fault_verdict(as_cell({"engine": "local", "workload": "squares"})) is None


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
    summary = fault_figures.fault_summary(as_cell(killed))
    assert "pid 4242" in summary and "lost 0" in summary and "dup 1" in summary
    assert "recovery 4.60 s" in summary
    broken = fault_figures.fault_summary(as_cell(failed_broker))
    assert "pid 77" in broken and "lost -" in broken and "run failed 40.0 ms" in broken
    assert "engine restarted in 2.50 s (its broker died)" in broken
    assert fault_figures.fault_summary(as_cell(missed)) == "worker fault: the run finished first"
    html = faults_table(_doc(killed, failed_broker, missed))
    assert 'id="faults"' in html and "4242" in html and "failed after 40.0 ms" in html
    assert "the run finished first" in html
    assert faults_table(_doc({**killed, "fault": None})) == ""
    # the report's first screen: a faulted row shows what was lost and duplicated
    _engines, rows = glance(_doc(killed))
    (row,) = rows
    assert row.kind == "faults"
    cell = next(iter(row.cells.values()))
    assert cell.value == 1 and cell.text == "1 dup"  # lost 0, 1 duplicate
