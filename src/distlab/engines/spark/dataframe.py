"""The dataframe contract (distlab.contracts.dataframe) on Spark SQL: the shared SQL text
over temporary views of the Parquet tables, run by the engine's SparkSession.

Each query registers its tables again (``spark.read.parquet`` per table, a temporary
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

from pyspark import SparkConf

from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.spark.tasks import collect

_LOCAL_DIR = "spark.local.dir"


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

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        spark = self.session
        for name in query.tables:
            spark.read.parquet(os.path.abspath(tables[name])).createOrReplaceTempView(name)
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
