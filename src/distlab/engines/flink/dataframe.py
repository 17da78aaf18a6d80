"""The dataframe contract (distlab.contracts.dataframe) on Flink: the shared SQL text in
Flink SQL, batch mode. Embedded, every query is a job on one mini-cluster that lives as
long as the engine (in its gateway JVM: ``session_cluster``); with ``--address``, a job
on the user's cluster.

Each of the query's tables becomes a temporary table of Flink's filesystem connector in
the Parquet format, declared with the Parquet file's own column types (read here with
pyarrow, which PyFlink's environment carries); the query (``summary_sql``) then runs as
one batch job and its few rows come back through ``collect()`` as Python values
(Decimal, date, int, float, str), which is what :class:`Answer` holds.

Flink ships no Parquet format: its jars (Flink's flink-parquet with Parquet's and
Hadoop's client jars) come from Maven Central with the other JVM parts (distlab.jvm,
module ``flink-parquet``) and are put on the jobs' class path before the first query.

This module imports neither pyflink nor pyarrow at the top: FlinkEngine, which uses it,
is imported in the main environment too (see distlab.engines.flink.engine).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distlab import jvm
from distlab.contracts import DistlabError
from distlab.contracts.dataframe import Answer, DataframeEngine, Query, summary_sql
from distlab.engines.flink import planner_thread

#: the prefix of the raw Parquet tables behind the views the SQL names
RAW_PREFIX = "distlab_parquet_"
#: decimals stored as bytes (FIXED_LEN_BYTE_ARRAY, BINARY) with at most this precision
#: make Flink's vectorized reader fail on dictionary-encoded pages (it keeps them in a
#: long vector and asks Parquet's binary dictionary for longs: "UnsupportedOperation...
#: PlainBinaryDictionary", seen with Flink 2.2 on tpchgen-cli's decimal(15,2) columns);
#: declared one digit wider they are read as bytes, then cast back to the file's type
COMPACT_DECIMAL_MAX = 18
WIDE_DECIMAL = 19
_BYTE_BACKED = ("FIXED_LEN_BYTE_ARRAY", "BYTE_ARRAY")
#: aggregates the shared SQL may call that Flink SQL (2.2, batch) lacks, tried there:
#: a query calling one is unsupported with this reason, not rewritten
MISSING_FUNCTIONS = {
    "median": "Flink SQL has no median() (its PERCENTILE(x, 0.5) gives the same answer, "
    "in another spelling)",
    "corr": "Flink SQL has no corr() (CORR is not even parsed as a function name there)",
}
_CALLS = re.compile(r"\b(" + "|".join(MISSING_FUNCTIONS) + r")\s*\(", re.IGNORECASE)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_file(path: str) -> Path:
    """The file whose schema stands for ``path`` (a Parquet file, or the first Parquet
    file in a folder of them, as Flink reads a folder: every file, recursively)."""
    where = Path(path)
    if where.is_dir():
        files = sorted(
            p for p in where.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
        )
        if not files:
            raise DistlabError(f"no Parquet file in {path}")
        return files[0]
    return where


def _flink_type(arrow_type, physical: str) -> tuple[str, str | None]:
    """(the type to declare for Flink's reader, the type to cast it to: None if same)."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if t.is_decimal(arrow_type):
        declared = f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
        if physical in _BYTE_BACKED and arrow_type.precision <= COMPACT_DECIMAL_MAX:
            return f"DECIMAL({WIDE_DECIMAL}, {arrow_type.scale})", declared
        return declared, None
    if t.is_timestamp(arrow_type):
        digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[arrow_type.unit]
        zone = "_LTZ" if arrow_type.tz else ""
        return f"TIMESTAMP{zone}({digits})", None
    simple = {
        pa.bool_(): "BOOLEAN",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INT",
        pa.int64(): "BIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.string(): "STRING",
        pa.large_string(): "STRING",
        pa.binary(): "BYTES",
        pa.large_binary(): "BYTES",
        pa.date32(): "DATE",
    }
    if arrow_type in simple:
        return simple[arrow_type], None
    raise DistlabError(f"Flink's Parquet tables: no mapping for the column type {arrow_type}")


def parquet_columns(path: str) -> list[tuple[str, str, str | None, bool]]:
    """(name, declared type, type to cast to or None, nullable) per column of the file."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(parquet_file(path))
    arrow = parquet.schema_arrow
    physical = {
        parquet.schema.column(i).name: parquet.schema.column(i).physical_type
        for i in range(len(parquet.schema))
    }
    columns = []
    for field in arrow:
        declared, cast = _flink_type(field.type, physical.get(field.name, ""))
        columns.append((field.name, declared, cast, field.nullable))
    return columns


def table_ddl(name: str, path: str) -> list[str]:
    """The statements that make ``name`` a view over the Parquet data at ``path``: a raw
    filesystem table with the file's column types, and the view the SQL reads."""
    columns = parquet_columns(path)
    raw = RAW_PREFIX + name
    location = path if "://" in path else Path(os.path.abspath(path)).as_uri()
    fields = ", ".join(
        f"{_quote(c)} {declared}{'' if nullable else ' NOT NULL'}"
        for c, declared, _, nullable in columns
    )
    select = ", ".join(
        f"CAST({_quote(c)} AS {cast}) AS {_quote(c)}" if cast else _quote(c)
        for c, _, cast, _ in columns
    )
    return [
        f"DROP TEMPORARY VIEW IF EXISTS {_quote(name)}",
        f"DROP TEMPORARY TABLE IF EXISTS {_quote(raw)}",
        f"CREATE TEMPORARY TABLE {_quote(raw)} ({fields}) WITH ("
        f"'connector' = 'filesystem', 'path' = {_sql_string(location)}, "
        "'format' = 'parquet')",
        f"CREATE TEMPORARY VIEW {_quote(name)} AS SELECT {select} FROM {_quote(raw)}",
    ]


def session_cluster(settings: dict[str, str], slots: int) -> tuple[Any, int]:
    """(a started mini-cluster, its REST port on 127.0.0.1): one in the gateway JVM for
    the engine's lifetime, the jobs of every query submitted to it.

    Flink's local executor (what the engine's own TableEnvironment uses for the word
    count) starts a mini-cluster for every job and stops it after: 1-2.5 s of every
    query here, more than a query at SF 0.01 takes."""
    from pyflink.java_gateway import get_gateway

    flink = get_gateway().jvm.org.apache.flink
    cluster_conf = flink.configuration.Configuration()
    for key, value in {**settings, "rest.port": "0"}.items():  # any free port
        cluster_conf.setString(key, value)
    built = (
        flink.runtime.minicluster.MiniClusterConfiguration.Builder()
        .setConfiguration(cluster_conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build()
    )
    cluster = flink.runtime.minicluster.MiniCluster(built)
    cluster.start()
    return cluster, cluster.getRestAddress().get().getPort()


def remote_table_env(settings: dict[str, str], port: int) -> Any:
    """A batch TableEnvironment submitting to the cluster whose REST port is ``port``."""
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    config = Configuration()
    remote = {"execution.target": "remote", "rest.address": "127.0.0.1", "rest.port": str(port)}
    for key, value in {**settings, **remote}.items():
        config.set_string(key, value)
    settings_ = EnvironmentSettings.new_instance().in_batch_mode().with_configuration(config)
    return planner_thread.built(TableEnvironment.create(settings_.build()))


class FlinkDataframe(DataframeEngine):
    """The dataframe part of FlinkEngine (which gives ``_env()``, its own TableEnvironment,
    ``settings()``, and ``_log_dir``, the mini-cluster's working directory)."""

    interface = "SQL (batch mode)"
    #: the TableEnvironment queries run on (with a user's cluster: the engine's own)
    _query_env: Any = None
    #: the gateway the query environment lives in (a restarted engine has a new one)
    _query_env_in: Any = None
    #: the session mini-cluster (a py4j reference: it dies with the gateway JVM), its port
    _session_cluster: Any = None
    _session_port: int = 0

    def _dataframe_env(self) -> Any:
        """The environment the next statement is planned in, that statement's call on the
        JVM thread that built it (see planner_thread)."""
        from pyflink.java_gateway import get_gateway

        t_env = self._env()  # starts the engine; put on its own connection
        if self.address:
            # a user's cluster: the engine's own environment; its jars travel with every job
            self._with_parquet_jars(t_env, "pipeline.jars")
            return t_env
        if self._query_env_in is not get_gateway():
            self._session_cluster, self._session_port = session_cluster(
                self.settings(), self.workers
            )
            self._query_env = None
        if self._query_env is None or not planner_thread.on_own_connection(self._query_env):
            self._query_env = remote_table_env(self.settings(), self._session_port)
            # the cluster runs in this machine's gateway JVM: it reads them where they are
            # (pipeline.jars would copy ~70 MB into its blob store per job)
            self._with_parquet_jars(self._query_env, "pipeline.classpaths")
            self._query_env_in = get_gateway()
            planner_thread.on_own_connection(self._query_env)
        return self._query_env

    @staticmethod
    def _with_parquet_jars(env: Any, key: str) -> None:
        """Flink's Parquet format on ``key`` of ``env``'s configuration (PyFlink also puts
        them on its gateway's class loader, where the planner finds the format)."""
        jars = [j.resolve().as_uri() for j in jvm.classpath("flink-parquet")]
        config = env.get_config()
        known = [u for u in (config.get(key, "") or "").split(";") if u]
        if any(j not in known for j in jars):
            config.set(key, ";".join(known + [j for j in jars if j not in known]))

    def unsupported(self, query: Query) -> str | None:
        called = _CALLS.search(query.sql)
        return MISSING_FUNCTIONS[called.group(1).lower()] if called else None

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        for name in query.tables:
            for statement in table_ddl(name, tables[name]):
                self._dataframe_env().execute_sql(statement)
        result = self._dataframe_env().execute_sql(summary_sql(query))
        columns = tuple(result.get_resolved_schema().get_column_names())
        # a few rows (an answer or its summary): over py4j, ~1 ms a row
        with result.collect() as rows:
            return Answer(columns, tuple(tuple(row) for row in rows))

    def spill_folders(self) -> list[str]:
        """Flink's batch operators spill sorts and hash tables to ``io.tmp.dirs``: the
        engine's own directory in a mini-cluster (a cluster's task managers: their own)."""
        log_dir = getattr(self, "_log_dir", None)
        return [log_dir] if log_dir and not getattr(self, "address", None) else []
