"""db-benchmark's groupby questions 1-10 on its G1 table (the dataframe shape).

db-benchmark (h2oai, then DuckDB Labs) times ten groupby questions over a table of N
rows and K groups on every dataframe engine, publishing each answer's checksum and
marking the sizes an engine could not finish. Here each question's answer is reduced
by the engine to that checksum (row count and measure sums: ``Query.summary``) and
checked against pandas' (the single-core reference; :mod:`distlab.workloads.queries`).
"""

from __future__ import annotations

from typing import Any

from distlab.contracts.dataframe import RAY_DATA_API, SPARK_API, Query
from distlab.workloads import groupby_data
from distlab.workloads.base import Param
from distlab.workloads.groupby_queries import FRAMES, MEASURES, SQL
from distlab.workloads.groupby_ray import FRAMES as RAY_FRAMES
from distlab.workloads.groupby_ray import NOT_EXPRESSIBLE as RAY_NOT_EXPRESSIBLE
from distlab.workloads.groupby_spark import FRAMES as SPARK_FRAMES
from distlab.workloads.groupby_spark import NOT_EXPRESSIBLE as SPARK_NOT_EXPRESSIBLE
from distlab.workloads.queries import QueryWorkload, api_forms

QUERY_NAMES = tuple(SQL)


def groupby_queries() -> dict[str, Query]:
    return {name: _query(name) for name in QUERY_NAMES}


def _query(name: str) -> Query:
    written = {
        RAY_DATA_API: (RAY_FRAMES, RAY_NOT_EXPRESSIBLE),
        SPARK_API: (SPARK_FRAMES, SPARK_NOT_EXPRESSIBLE),
    }
    frames, not_expressible = api_forms(name, FRAMES, written)
    return Query(name=name, tables=("x",), sql=SQL[name], frames=frames,
                 summary=MEASURES[name], not_expressible=not_expressible)  # fmt: skip


class Groupby(QueryWorkload):
    name = "groupby"
    description = "db-benchmark's groupby questions 1-10 on its G1 table (dataframe engines)"
    query_names = QUERY_NAMES
    # its default size is db-benchmark's (1e7 rows, ten questions): asked for by name
    in_main_job = False
    requires_extra = "pandas"
    sizes = {
        "tiny": {"rows": 100_000, "groups": 10},
        "default": {"rows": 10_000_000, "groups": 100},
        "seed": {"rows": 100_000_000, "groups": 100},
    }
    params_declared = {
        "rows": Param(int, minimum=1),
        "groups": Param(int, minimum=1),
        "queries": Param(list, item=str, optional=True),
        "data_dir": Param(str, optional=True),
    }

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        path = groupby_data.table(self.params["rows"], self.params["groups"],
                                  self.params.get("data_dir"))  # fmt: skip
        self.tables = {"x": str(path)}
        self.queries = groupby_queries()
        self._select(self.params.get("queries"))
