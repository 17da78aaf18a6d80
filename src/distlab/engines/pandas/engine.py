"""pandas: the dataframe shape's single-core reference, in the engine's own process.

A query reads its tables whole with pyarrow (pandas has no optimizer to prune columns or
push filters into the scan, so it reads what a pandas user reads) and runs the query's
pandas-API form (:mod:`distlab.workloads.tpch_frames`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from distlab.contracts.dataframe import PANDAS_API, Answer, DataframeEngine, Query
from distlab.engines.common.frames import finish, pandas_tables
from distlab.engines.pandas.plugin import PLUGIN


class PandasEngine(DataframeEngine):
    name = "pandas"
    plugin = PLUGIN
    interface = "dataframe API (pandas)"

    @classmethod
    def default_workers(cls) -> int:
        return 1

    def _start(self) -> None:
        import pandas  # noqa: F401  (the import is the engine's start-up cost)

    def close(self) -> None:
        self.started = False

    def unsupported(self, query: Query) -> str | None:
        if PANDAS_API not in query.frames:
            return f"{query.name} has no pandas form"
        return query.not_expressible.get(PANDAS_API)

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        frames = pandas_tables(tables, query.tables)
        return finish(query.frames[PANDAS_API](frames), query)

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "interface": self.interface, "processes": 1}
