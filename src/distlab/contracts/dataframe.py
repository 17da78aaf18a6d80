"""The dataframe contract: a query over named Parquet tables, a small answer back.

* A :class:`Query` is one question asked of tables (TPC-H's lineitem, orders, ...; the
  groupby benchmark's ``x``). It carries the question in two forms: ``sql``, the text
  every engine that speaks SQL runs unchanged (DuckDB, Polars, Spark, Flink, Daft), and
  ``frames``, the same question written in a dataframe API, keyed by that API's name
  (``"pandas"``: pandas and Dask DataFrame alike; ``"ray"``: Ray Data). An engine runs
  the form its users would write, and says which (``interface``).
* Where the answer is large (a groupby with ten million groups), ``summary`` names the
  answer's measure columns and the engine returns one row instead: the answer's row count
  and each measure column's sum, computed by the engine (db-benchmark's ``chk``).
  :func:`summary_sql` wraps the SQL form; frame engines sum their own result.
* :meth:`DataframeEngine.run_query` runs one query over ``tables`` (name -> a Parquet
  file or a folder of them) and returns :class:`Answer`: the column names and the rows as
  plain Python values (int, float, Decimal, str, date), so the workload compares every
  engine's answer the same way, in the driver, outside the timed region.
* :meth:`DataframeEngine.unsupported` says why an engine cannot express a query (None
  when it can): the cell is then marked unsupported with that reason, never emulated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from distlab.contracts.lifecycle import DATAFRAME, Engine

#: the dataframe APIs a query may be written in (``Query.frames`` keys)
PANDAS_API = "pandas"
RAY_DATA_API = "ray"
SPARK_API = "spark"


@dataclass(frozen=True)
class Query:
    """One question over named tables (see the module docstring)."""

    #: "q1" ... ; unique within its workload
    name: str
    #: the tables it reads
    tables: tuple[str, ...]
    #: the SQL text shared by every SQL engine
    sql: str
    #: the same question in dataframe APIs: ``frames[api](tables) -> frame`` where
    #: ``tables`` maps each name to the engine's frame of that table; Ray Data's form is
    #: ``frames["ray"](tables, api)``, ``api`` the Ray Data names the engine hands in
    #: (workloads do not import Ray); PySpark's, ``frames["spark"](tables, api)``, the
    #: same way (``api``: pyspark.sql.functions and Window)
    frames: Mapping[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    #: the order of the final answer, applied to the collected frame result by the frame
    #: engines: (column, ascending) pairs, and the row limit (None: all rows)
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    #: measure columns: when set, the answer is (rows, sum of each) instead of the rows
    summary: tuple[str, ...] | None = None
    #: why an API cannot express the question (e.g. Ray Data has no median aggregate)
    not_expressible: Mapping[str, str] = field(default_factory=dict)

    def summary_columns(self) -> tuple[str, ...]:
        return ("n_rows", *(f"sum_{c}" for c in self.summary or ()))


def summary_sql(query: Query) -> str:
    """The query's SQL, wrapped into its one-row summary when it has one."""
    if query.summary is None:
        return query.sql
    sums = ", ".join(f"sum({c}) AS sum_{c}" for c in query.summary)
    return f"SELECT count(*) AS n_rows, {sums} FROM ({query.sql}) AS answer"


@dataclass(frozen=True)
class Answer:
    """A query's answer as plain Python values (or its one-row summary)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


class DataframeEngine(Engine):
    """An engine that runs queries over Parquet tables: implement ``run_query``."""

    contract_shape: ClassVar[str] = DATAFRAME
    #: how it runs a query, shown in every cell: "SQL", "dataframe API (pandas)", ...
    interface: ClassVar[str] = "SQL"

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        raise NotImplementedError

    def unsupported(self, query: Query) -> str | None:
        """Why this engine cannot run ``query`` (None: it can)."""
        return None

    def spill_folders(self) -> list[str]:
        """Folders the engine spills to when a query outgrows its memory (their size,
        sampled while a query runs, is the cell's spill figure)."""
        return []
