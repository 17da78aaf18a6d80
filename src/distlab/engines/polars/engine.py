"""Polars: the shared SQL text over lazy Parquet scans, collected on the streaming engine.

``pl.SQLContext`` turns the SQL into a LazyFrame (the same plan the lazy API builds, with
its projection and predicate pushdown); ``collect(engine="streaming")`` runs it in
batches, so a query larger than memory can still complete. Threads: the worker count
(POLARS_MAX_THREADS, read by Polars when it is first imported: in the engine's own
process, before that).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.polars.plugin import PLUGIN


class PolarsEngine(DataframeEngine):
    name = "polars"
    plugin = PLUGIN
    interface = "SQL (lazy, streaming engine)"

    def _start(self) -> None:
        os.environ.setdefault("POLARS_MAX_THREADS", str(self.workers))
        import polars

        self._pl = polars

    def close(self) -> None:
        self.started = False

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        pl = self._pl
        frames = {name: pl.scan_parquet(tables[name]) for name in query.tables}
        result = pl.SQLContext(frames).execute(summary_sql(query)).collect(engine="streaming")
        return Answer(tuple(result.columns), tuple(result.rows()))

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "interface": self.interface,
            "threads": self._pl.thread_pool_size(),
        }
