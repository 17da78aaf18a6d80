"""The dataframe shape: TPC-H and the groupby questions on every dataframe engine, each
answer checked (TPC-H's own answer sets, pandas' where there are none), and the checks
themselves shown to fail on a wrong answer: a dropped row or a rounding beyond the
tolerance fails that cell, and the other cells of the same engine stand."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import pytest

from commands import distlab as run_distlab
from conformance.dataframe import DataframeConformance
from conformance.lifecycle import LifecycleConformance
from distlab import registry
from distlab.contracts.dataframe import Answer
from distlab.run.measure import run_cell
from distlab.run.model import EngineJob
from distlab.workloads import answers, create
from distlab.workloads.tpch import tpch_queries
from present import require_module

DATAFRAME_ENGINES = [
    name for name in registry.ENGINES if "dataframe" in registry.entry(name).shapes
]
IN_PROCESS = ["pandas", "polars", "duckdb", "daft"]


@pytest.fixture(scope="module")
def tpch_tiny():
    require_module("pyarrow")
    return create("tpch", "tiny")


def test_every_in_process_engine_is_a_dataframe_engine():
    assert set(IN_PROCESS) <= set(DATAFRAME_ENGINES)


class InProcessSuite(LifecycleConformance, DataframeConformance):
    pass


class TestPandas(InProcessSuite):
    engine_name = "pandas"


class TestPolars(InProcessSuite):
    engine_name = "polars"


class TestDuckdb(InProcessSuite):
    engine_name = "duckdb"


class TestDaft(InProcessSuite):
    engine_name = "daft"
    # its Ray runner's cluster (across the test hosts: tests/test_hosts.py)
    unreachable_address = "ray://127.0.0.1:{port}"


def test_the_reference_is_the_official_answer_where_one_exists(tpch_tiny):
    golden = tpch_tiny.golden()
    assert golden["q1"]["by"] == "DuckDB tpch extension's answer set"  # TPC-H's: SF 1 only
    # at SF 0.01 TPC-H publishes none for Q13 and DuckDB's differs from TPC-H's data
    assert golden["q13"]["by"].startswith("pandas")


def test_tpch_q13_answer_is_tpch_s_own_at_sf1():
    """TPC-H's qualification answer (50005 customers without orders), not the 50004 of
    DuckDB's extension, whose generator writes other comments."""
    path = resources.files("distlab.workloads") / "tpch_answers" / "q13-sf1.tbl"
    header, rows, _ = answers.read_answer_table(path.read_text())
    assert header == ("c_count", "custdist") and rows[0] == (0.0, 50005.0)


def _lying(engine_name: str, lie):
    """The real engine's class, answering one query wrongly (the test's own subclass)."""
    base = registry.engine_class(engine_name)

    class Lying(base):
        def run_query(self, query, tables):
            answer = super().run_query(query, tables)
            return lie(query, answer)

    return Lying


def _drop_a_row(query, answer: Answer) -> Answer:
    return replace(answer, rows=answer.rows[:-1]) if query.name == "q3" else answer


def _round_to_whole(query, answer: Answer) -> Answer:
    if query.name != "q1":
        return answer
    rounded = tuple(tuple(round(float(v)) if not isinstance(v, str) else v for v in row)
                    for row in answer.rows)  # fmt: skip
    return replace(answer, rows=rounded)


@pytest.mark.parametrize(("lie", "bad", "fine"), [(_drop_a_row, "q3", "q5"),
                                                  (_round_to_whole, "q1", "q6")])  # fmt: skip
def test_a_wrong_answer_fails_that_cell_and_only_that_cell(lie, bad, fine, tpch_tiny):
    require_module("duckdb")
    job = EngineJob(engine="duckdb", workloads=["tpch"], size="tiny", repeats=1, warmup=0)
    with _lying("duckdb", lie)(workers=1) as engine:
        failed = run_cell(engine, tpch_tiny, bad, job)
        passed = run_cell(engine, tpch_tiny, fine, job)
    assert failed.status == "failed" and failed.verified is False
    assert "wrong answer" in failed.error
    assert passed.status == "ok" and passed.verified


def test_tolerance_is_stated_and_tight():
    want = [(1.0, 25.52)]
    rounding = [(0.0, 0.005)]  # printed to two decimals
    assert answers.compare([(1.0, 25.5249)], want, ("a", "b"), rounding) is None
    assert answers.compare([(1.0, 25.526)], want, ("a", "b"), rounding) is not None
    assert answers.compare([(2.0, 25.52)], want, ("a", "b"), rounding) is not None
    assert answers.compare([], want, ("a", "b")) == "0 rows where the reference has 1"


def test_an_engine_that_cannot_express_a_query_is_unsupported_with_its_reason(tmp_path):
    require_module("daft")
    out = tmp_path / "r"
    done = run_distlab("run", "--engines", "daft", "--workloads", "groupby", "--size", "tiny",
                       "--param", 'groupby.queries=["q1","q9"]', "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    cells = {c["variant"]: c for c in json.loads((out / "results.json").read_text())["cells"]}
    assert cells["q1"]["status"] == "ok" and cells["q1"]["verified"]
    assert cells["q9"]["status"] == "unsupported" and "corr" in cells["q9"]["reason"]


def test_groupby_checksums_agree_across_engines():
    require_module("pyarrow")
    wl = create("groupby", "tiny")
    sums = {}
    for name in ("duckdb", "polars", "pandas"):
        require_module(name)
        with registry.create(name, workers=2) as engine:
            for query in wl.queries:
                output = wl.run(engine, query)
                ok, detail = wl.verify(output, query)
                assert ok, f"{name} {query}: {detail}"
                sums[(name, query)] = answers.normalise(output.result.rows)
    for query in wl.queries:  # within the stated tolerance (a parallel float sum varies)
        want = sums[("pandas", query)]
        columns = [f"column {i}" for i in range(len(want[0]))]
        for name in ("duckdb", "polars"):
            assert answers.compare(sums[(name, query)], want, columns) is None, (name, query)


def test_bad_query_names_are_one_line():
    done = run_distlab("run", "--engines", "duckdb", "--workloads", "tpch", "--size", "tiny",
                       "--param", 'tpch.queries=["q2"]')  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(tpch_queries()) == 7


@pytest.mark.timeout(900)
def test_bench_tpch_checks_every_answer_and_stops_an_engine_at_its_limit(tmp_path):
    """Two engines, two scales: every answer checked (TPC-H's, else agreement); then a
    memory limit below what a Python process holds stops every query at the first scale,
    and the larger scale is not tried."""
    require_module("duckdb")
    done = run_distlab("bench", "tpch", "--sf", "0.01", "--engines", "duckdb,pandas",
                       "--repeats", "1", "--out", str(tmp_path), timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "bench-tpch.json").read_text())["rows"]
    queries = [r for r in rows if r.get("event") == "query"]
    assert len(queries) == 14 and all(r["status"] == "ok" and r["verified"] for r in queries)
    assert {r["checked_by"] for r in queries if r["query"] == "q13"} == {
        "agreement of 2 of 2 engines"
    }
    assert (tmp_path / "tpch-scale.png").stat().st_size > 0
    # the report of a run in the same folder shows the bench's tables
    done = run_distlab("run", "--engines", "duckdb", "--workloads", "tpch", "--size", "tiny",
                       "--param", 'tpch.queries=["q6"]', "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "TPC-H (distlab bench tpch)" in (tmp_path / "report.html").read_text()

    limited = tmp_path / "limited"
    limited.mkdir()
    done = run_distlab("bench", "tpch", "--sf", "0.01,0.1", "--engines", "duckdb",
                       "--queries", "q1,q6", "--memory-limit", "0.03", "--out", str(limited),
                       timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads((limited / "bench-tpch.json").read_text())["rows"]
    statuses = {(r["sf"], r["query"]): r["status"] for r in rows if r.get("event") == "query"}
    # the limit is sampled every 0.25 s: the engine process is stopped at the first sample
    # past it, while it starts or during whichever query runs then (a query of this tiny
    # scale may finish between two samples, on a loaded machine even the first one)
    stopped = [
        q for (sf, q), status in statuses.items() if sf == 0.01 and status == "out of memory"
    ]
    assert stopped, statuses
    assert statuses[(0.1, "q1")] == "not tried"
    assert "largest SF completed" in done.stdout and "out of memory" in done.stdout


def test_bench_tpch_bad_input_is_one_line():
    for args in (["--sf", "0"], ["--sf", "x"], ["--queries", "q2"], ["--engines", "nope"]):
        done = run_distlab("bench", "tpch", *args)
        assert done.returncode != 0 and "Traceback" not in done.stderr, args
