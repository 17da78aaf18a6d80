"""The dataframe suite: every engine that implements DataframeEngine runs TPC-H (SF 0.01)
and the groupby questions (tiny) on its real engine, each answer checked against the
reference (TPC-H's answer sets, else pandas'); a query it cannot express must say why."""

from __future__ import annotations

import pytest

from conformance.checks import check_groupby_answers, check_tpch_answers
from distlab.contracts.dataframe import DataframeEngine, Query
from distlab.workloads import create
from present import require_module


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
        check_tpch_answers(engine, tpch_tiny)

    def test_groupby_answers_verified(self, engine, groupby_tiny):
        check_groupby_answers(engine, groupby_tiny)

    def test_a_query_over_a_missing_file_fails_in_one_line(self, engine, tmp_path):
        query = Query("q-missing", ("t",), "SELECT count(*) AS n FROM t",
                      frames={"pandas": lambda t: t["t"]})  # fmt: skip
        with pytest.raises(Exception) as failed:
            engine.run_query(query, {"t": str(tmp_path / "absent.parquet")})
        assert str(failed.value).strip()
