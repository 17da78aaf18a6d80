"""The dataframe suite: every engine that implements DataframeEngine runs TPC-H (SF 0.01)
and the groupby questions (tiny) on its real engine, each answer checked against the
reference (TPC-H's answer sets, else pandas'); a query it cannot express must say why."""

from __future__ import annotations

import pytest

from distlab.contracts.dataframe import DataframeEngine, Query
from distlab.workloads import create
from present import require_module


def _every_answer_checked(engine, workload) -> dict[str, str]:
    """query -> "ok" or the engine's reason it cannot express it; fails on a wrong answer."""
    outcome = {}
    for name, query in workload.queries.items():
        why = engine.unsupported(query)
        if why:
            assert isinstance(why, str) and why.strip(), f"{name}: an empty reason"
            outcome[name] = why
            continue
        output = workload.run(engine, name)
        ok, detail = workload.verify(output, name)
        assert ok, f"{engine.name} {workload.name} {name}: {detail}"
        assert output.metrics["rows_per_s"] and output.metrics["interface"] == engine.interface
        outcome[name] = "ok"
    return outcome


class DataframeConformance:
    """Mixed into an EngineSuite (``engine`` fixture)."""

    @pytest.fixture(scope="class")
    @classmethod
    def tpch_tiny(cls):
        require_module("pyarrow")
        return create("tpch", "tiny")

    @pytest.fixture(scope="class")
    @classmethod
    def groupby_tiny(cls):
        require_module("pyarrow")
        return create("groupby", "tiny")

    def test_is_a_dataframe_engine(self, engine):
        assert isinstance(engine, DataframeEngine)
        assert engine.interface

    def test_tpch_answers_verified(self, engine, tpch_tiny):
        outcome = _every_answer_checked(engine, tpch_tiny)
        # Q1 and Q6 (a scan, a filter, an aggregate) every dataframe engine can express
        assert outcome["q1"] == "ok" and outcome["q6"] == "ok", outcome

    def test_groupby_answers_verified(self, engine, groupby_tiny):
        outcome = _every_answer_checked(engine, groupby_tiny)
        assert outcome["q1"] == "ok", outcome

    def test_a_query_over_a_missing_file_fails_in_one_line(self, engine, tmp_path):
        query = Query("q-missing", ("t",), "SELECT count(*) AS n FROM t",
                      frames={"pandas": lambda t: t["t"]})  # fmt: skip
        with pytest.raises(Exception) as failed:
            engine.run_query(query, {"t": str(tmp_path / "absent.parquet")})
        assert str(failed.value).strip()
