"""The dataframe contract (distlab.contracts.dataframe) on Spark, in one of two forms (the
engine option ``interface``): "sql" (the default), the shared SQL text over temporary
views of the Parquet tables; "dataframe", the query's PySpark DataFrame API form
(``query.frames["spark"]``, :mod:`distlab.workloads.tpch_spark`), handed the tables and
``api``, the PySpark names it uses (``F``: pyspark.sql.functions, ``Window``), since
workloads do not import PySpark. Its final order, limit or summary is applied in Spark
before collecting, as the SQL text does it, so both forms collect the same few rows.

Each query reads its tables again (``spark.read.parquet`` per table; for SQL a temporary
view per name), as DuckDB recreates its views: a query never relies on what an earlier
one left behind. The answer is collected to the driver and handed back as plain Python
values (a Row becomes a tuple; decimals stay Decimal, dates stay date).

Spill: in embedded mode Spark's shuffle and spill files go under ``spark.local.dir``;
the engine gives it a folder of its own (removed on close) unless the user set one. The
spill folders are its ``blockmgr-*`` folders, Spark's block store on disk (every shuffle's
files and every spill): the rest of the local dir holds the jars the driver serves (the
Kafka connector's 10 MB) and PySpark's temporary files. Spark writes a shuffle's output to
disk whatever its size, and deletes it only once the JVM's garbage collector has let go of
the query that made it: the folders' size also counts shuffle files of earlier queries.
With a standalone master the executors write under their worker's own folders on the
worker hosts (the worker's ``SPARK_LOCAL_DIRS`` wins over the driver's
``spark.local.dir``), which this process cannot see: no spill folder then.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pyspark import SparkConf
from pyspark.sql import Window
from pyspark.sql import functions as F

from distlab.contracts import DistlabError
from distlab.contracts.dataframe import SPARK_API, Answer, DataframeEngine, Query, summary_sql
from distlab.engines.spark.tasks import collect

_LOCAL_DIR = "spark.local.dir"
#: the engine option ``interface`` -> what a cell says ran
INTERFACES = {"sql": "SQL", "dataframe": "dataframe API (PySpark)"}
#: the PySpark names a query's DataFrame form uses
_PYSPARK_API = SimpleNamespace(F=F, Window=Window)


class SparkDataframe(DataframeEngine):
    """The dataframe part of SparkEngine (which provides ``session``, ``health``,
    ``address`` and ``options``)."""

    interface = "SQL"
    #: spark.local.dir when this engine made it (None: the user's, or a cluster's)
    _local_dir: str | None = None

    def _own_local_dir(self, conf: SparkConf) -> None:
        """Before the JVM starts: point spark.local.dir at a new folder of this engine's,
        unless the user chose one (in ``conf`` or SPARK_LOCAL_DIRS, which Spark prefers)
        or executors on other hosts would not write there."""
        if not self._embedded() or self._chosen_local_dirs():
            return
        self._local_dir = tempfile.mkdtemp(prefix="distlab-spark-local-")
        conf.set(_LOCAL_DIR, self._local_dir)

    def _drop_local_dir(self) -> None:
        """After the JVM stopped (it writes there until it exits)."""
        local_dir, self._local_dir = self._local_dir, None
        if local_dir:
            shutil.rmtree(local_dir, ignore_errors=True)

    def _dataframe_api(self) -> bool:
        return self.options["interface"] == "dataframe"

    def unsupported(self, query: Query) -> str | None:
        if not self._dataframe_api():
            return None
        reason = query.not_expressible.get(SPARK_API)
        if reason:
            return reason
        return None if SPARK_API in query.frames else "no PySpark DataFrame form"

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        spark = self.session
        frames = {name: spark.read.parquet(os.path.abspath(tables[name])) for name in query.tables}
        if self._dataframe_api():
            form = query.frames.get(SPARK_API)
            if form is None:
                raise DistlabError(f"{query.name} has no PySpark DataFrame form")
            result = _finish(form(frames, _PYSPARK_API), query)
        else:
            for name, frame in frames.items():
                frame.createOrReplaceTempView(name)
            result = spark.sql(summary_sql(query))
        # collect() names a dead JVM (out of heap) as such rather than Py4J's wrapper
        rows = collect(result, self.health)
        return Answer(tuple(result.columns), tuple(tuple(row) for row in rows))

    def spill_folders(self) -> list[str]:
        if not self._embedded():
            return []
        roots = [self._local_dir] if self._local_dir else self._chosen_local_dirs()
        # DiskBlockManager makes its blockmgr-<uuid> folder in each root as Spark starts
        stores = sorted(str(p) for root in roots for p in Path(root).glob("blockmgr-*"))
        return stores or roots

    def _embedded(self) -> bool:
        return not self.address or self.address.startswith("local")

    def _chosen_local_dirs(self) -> list[str]:
        """The user's choice: SPARK_LOCAL_DIRS wins over spark.local.dir in Spark too;
        either is a comma-separated list of folders."""
        chosen = os.environ.get("SPARK_LOCAL_DIRS") or self.options["conf"].get(_LOCAL_DIR)
        return [d for d in str(chosen or "").split(",") if d]


def _finish(result: Any, query: Query) -> Any:
    """The form's DataFrame with the query's final order and limit, or reduced to its
    one-row summary, as ``summary_sql`` and the SQL text's ORDER BY ... LIMIT do."""
    if query.summary is not None:
        sums = [F.sum(c).alias(f"sum_{c}") for c in query.summary]
        return result.agg(F.count(F.lit(1)).alias("n_rows"), *sums)
    if query.order:
        result = result.orderBy(
            *(F.col(c).asc() if up else F.col(c).desc() for c, up in query.order)
        )
    if query.limit is not None:
        result = result.limit(query.limit)
    return result
