"""DuckDB: the shared SQL text over Parquet views, in the engine's own process.

Threads: the worker count (DuckDB's ``threads``). It spills to a temporary folder of its
own when a query passes its memory limit (the bench samples that folder's size); it is
removed on close.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.duckdb.plugin import PLUGIN


class DuckdbEngine(DataframeEngine):
    name = "duckdb"
    plugin = PLUGIN
    interface = "SQL"

    def _start(self) -> None:
        import duckdb

        self._spill = tempfile.mkdtemp(prefix="distlab-duckdb-spill-")
        self._con = duckdb.connect()
        self._con.execute(f"SET threads = {int(self.workers)}")
        self._con.execute(f"SET temp_directory = '{self._spill}'")
        if self.options["memory_limit"]:
            self._con.execute(f"SET memory_limit = '{self.options['memory_limit']}'")

    def close(self) -> None:
        if getattr(self, "_con", None) is not None:
            self._con.close()
            self._con = None
        if getattr(self, "_spill", None):
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None
        self.started = False

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        for name in query.tables:
            self._con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{tables[name]}')"
            )
        cursor = self._con.execute(summary_sql(query))
        columns = tuple(d[0] for d in cursor.description)
        return Answer(columns, tuple(cursor.fetchall()))

    def spill_folders(self) -> list[str]:
        return [self._spill] if getattr(self, "_spill", None) else []

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "interface": self.interface, "threads": self.workers}
