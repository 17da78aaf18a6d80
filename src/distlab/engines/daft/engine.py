"""Daft: the shared SQL text over lazy Parquet reads, on Daft's native (local) runner.

``daft.sql`` plans the text against the DataFrames named in the call; ``to_pydict``
collects the answer. Decimal columns are read as float64: Daft widens a decimal product's
precision past 38 digits and refuses TPC-H's ``price * (1 - discount) * (1 + tax)``
(Q1, Q9) otherwise. The native runner uses every core of the machine (Daft has no
thread setting of its own here).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.daft.plugin import PLUGIN


class DaftEngine(DataframeEngine):
    name = "daft"
    plugin = PLUGIN
    interface = "SQL"

    def _start(self) -> None:
        import daft

        # the runner is chosen once per process: a second engine in it finds it set
        if daft.get_or_infer_runner_type() != "native":
            daft.set_runner_native()
        self._daft = daft

    def close(self) -> None:
        self.started = False

    def unsupported(self, query: Query) -> str | None:
        if "corr(" in query.sql:
            return "Daft's SQL has no corr() (nor has its DataFrame API a correlation aggregate)"
        return None

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        daft = self._daft
        frames = {name: self._read(tables[name]) for name in query.tables}
        result = daft.sql(summary_sql(query), **frames)
        columns = tuple(result.column_names)
        data = result.to_pydict()
        return Answer(columns, tuple(zip(*(data[c] for c in columns), strict=True)))

    def _read(self, path: str) -> Any:
        daft = self._daft
        frame = daft.read_parquet(os.path.abspath(path))
        decimals = [f.name for f in frame.schema() if f.dtype.is_decimal128()]
        if decimals:
            frame = frame.with_columns(
                {name: daft.col(name).cast(daft.DataType.float64()) for name in decimals}
            )
        return frame

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "interface": self.interface, "runner": "native"}
