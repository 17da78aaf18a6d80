"""Daft: the shared SQL text over lazy Parquet reads, on Daft's native (local) runner, or
with an address (``ray://host:port``, a Ray cluster's client server) on its Ray runner,
which plans on the driver and runs each query's tasks on the cluster's nodes.

``daft.sql`` plans the text against the DataFrames named in the call; ``to_pydict``
collects the answer. Decimal columns are read as float64: Daft widens a decimal product's
precision past 38 digits and refuses TPC-H's ``price * (1 - discount) * (1 + tax)``
(Q1, Q9) otherwise. The native runner uses every core of the machine (Daft has no
thread setting of its own here).

The runner is chosen once per process (Daft refuses another once a query ran), so a
process runs Daft natively or on one Ray cluster, not both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from distlab.contracts import EngineStartError
from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.common.addressing import endpoint, require_answer
from distlab.engines.daft.plugin import PLUGIN

#: Ray Client's default port (``ray start --head --ray-client-server-port``)
_RAY_CLIENT_PORT = 10001


class DaftEngine(DataframeEngine):
    name = "daft"
    plugin = PLUGIN
    interface = "SQL"
    address_help = "ray://host:port of a Ray cluster's client server (Daft's Ray runner)"

    @classmethod
    def check_address(cls, address: str) -> None:
        if not address.startswith("ray://"):
            raise EngineStartError(
                f"daft address must look like ray://host:port (a Ray cluster), got {address!r}"
            )
        host, port = endpoint(cls.name, address, _RAY_CLIENT_PORT, "ray://host:port")
        # a Ray Client connect retries an absent server for long: test the port first
        require_answer(cls.name, address, host, port)

    def _runner(self) -> str:
        return "ray" if self.address else "native"

    def _start(self) -> None:
        import daft

        if self.address:
            self.check_address(self.address)
            # as the Ray engine: the CLI-started clusters run without token authentication
            # (Ray 2.60's default), and usage stats would phone home
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        current = daft.get_or_infer_runner_type()
        # the runner is chosen once per process: a second engine in it finds it set
        if current != self._runner() and self.address:
            daft.set_runner_ray(address=self.address)
        elif current != self._runner():
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
        # on Ray the work runs in the cluster's workers, on other hosts
        return [] if self.address else [os.getpid()]

    def describe(self) -> dict[str, Any]:
        # the runner Daft itself reports (set once per process: see the module docstring)
        runner = self._daft.get_or_infer_runner_type() if self.started else self._runner()
        return {**super().describe(), "interface": self.interface, "runner": runner}
