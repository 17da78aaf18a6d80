"""TPC-H queries 1, 3, 5, 6, 9, 13 and 18 over tables made here (the dataframe shape).

The decision most teams face for batch work is a dataframe or SQL engine; TPC-H is the
common yardstick (coiled's benchmarks, Polars' PDS-H, Daft's SF100 runs). These seven
cover a scan with a large aggregate (Q1), filters (Q6), wide joins (Q3, Q5, Q9), a string
predicate in an outer join (Q13) and a large groupby feeding a semi-join (Q18). Each
engine runs them in its own interface (the shared SQL text, the pandas API, Ray Data's or
PySpark's DataFrame API), and each answer is checked against TPC-H's own answer set at
SF 1 (DuckDB's stored answers at SF 0.01 and 0.1; pandas elsewhere): :mod:`distlab.workloads.queries`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from distlab.contracts.dataframe import RAY_DATA_API, SPARK_API, Query
from distlab.workloads import answers, tpch_data
from distlab.workloads.base import Param
from distlab.workloads.queries import QueryWorkload, api_forms
from distlab.workloads.tpch_frames import FRAMES, ORDER
from distlab.workloads.tpch_ray import FRAMES as RAY_FRAMES
from distlab.workloads.tpch_ray import NOT_EXPRESSIBLE as RAY_NOT_EXPRESSIBLE
from distlab.workloads.tpch_spark import FRAMES as SPARK_FRAMES
from distlab.workloads.tpch_spark import NOT_EXPRESSIBLE as SPARK_NOT_EXPRESSIBLE
from distlab.workloads.tpch_sql import SQL, TABLES

QUERY_NAMES = tuple(SQL)
#: the stored answer sets, and sources.json: whose they are at each scale
_ANSWERS = resources.files("distlab.workloads") / "tpch_answers"


def tpch_queries() -> dict[str, Query]:
    return {name: _query(name) for name in QUERY_NAMES}


def _query(name: str) -> Query:
    written = {
        RAY_DATA_API: (RAY_FRAMES, RAY_NOT_EXPRESSIBLE),
        SPARK_API: (SPARK_FRAMES, SPARK_NOT_EXPRESSIBLE),
    }
    frames, not_expressible = api_forms(name, FRAMES, written)
    return Query(
        name=name, tables=TABLES[name], sql=SQL[name], frames=frames,
        order=ORDER[name][0], limit=ORDER[name][1], not_expressible=not_expressible,
    )  # fmt: skip


class Tpch(QueryWorkload):
    name = "tpch"
    description = "TPC-H Q1, Q3, Q5, Q6, Q9, Q13, Q18 over Parquet (dataframe and SQL engines)"
    query_names = QUERY_NAMES
    requires_extra = "tpch"
    # default: the main job's small row set (a scan with a large aggregate, a join, a
    # filter); all seven queries at SF 1 are `--size seed` and `distlab bench tpch`
    sizes = {
        "tiny": {"scale_factor": 0.01},
        "default": {"scale_factor": 0.1, "queries": ["q1", "q3", "q6"]},
        "seed": {"scale_factor": 1.0},
    }
    params_declared = {
        "scale_factor": Param(float, above=0),
        "queries": Param(list, item=str, optional=True),
        # where the tables are made and kept (every host must read the same path)
        "data_dir": Param(str, optional=True),
    }

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        self.scale_factor = float(self.params["scale_factor"])
        files = tpch_data.tables(self.scale_factor, self.params.get("data_dir"))
        self.tables = {name: str(path) for name, path in files.items()}
        self.queries = tpch_queries()
        self._select(self.params.get("queries"))

    def answer_set_name(self) -> str:
        # whose answers they are, per scale, as the script that wrote them recorded it
        sources = json.loads((_ANSWERS / "sources.json").read_text(encoding="utf-8"))
        return sources.get(f"{self.scale_factor:g}", "stored answer set")

    def official_answer(self, name: str):
        path = _ANSWERS / f"{name}-sf{self.scale_factor:g}.tbl"
        if not path.is_file():
            return None
        return answers.read_answer_table(path.read_text(encoding="utf-8"))
