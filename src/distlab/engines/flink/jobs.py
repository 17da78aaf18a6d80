"""Flink job pieces that run inside Flink's own environment (imported by
distlab.engines.flink.engine only).

Python UDFs defined here are pickled by reference, so the Python workers Flink starts
(the Flink venv's python, where distlab is importable) load them from this module; the
user's mapper and reducer travel inside them by value (cloudpickle).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pyflink.table import DataTypes, TableEnvironment
from pyflink.table.udf import TableFunction, udaf, udtf

# Python's str.split() splits on runs of these characters (Unicode White_Space plus the
# ASCII separators \x1c-\x1f); Java's \s alone is only [ \t\n\x0B\f\r].
PY_WHITESPACE_JAVA_REGEX = (
    r"[\s\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+"
)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_job_numbers = itertools.count()


def register_lines(t_env: TableEnvironment, paths: Sequence[str]) -> str:
    """A new view ``(line STRING)`` over the text lines of ``paths`` (Flink's file source)."""
    view = f"distlab_lines_{next(_job_numbers)}"
    parts = []
    for i, path in enumerate(paths):
        table = f"{view}_{i}"
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {table} (line STRING) WITH ("
            f"'connector' = 'filesystem', 'path' = {_sql_string('file://' + path)}, "
            "'format' = 'raw')"
        )
        parts.append(f"SELECT line FROM {table}")
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {view} AS " + " UNION ALL ".join(parts))
    return view


def wordcount_sql(view: str) -> str:
    """Word count with SQL built-ins only: whitespace runs -> one space, SPLIT, UNNEST."""
    normalised = (
        f"TRIM(BOTH ' ' FROM REGEXP_REPLACE(line, {_sql_string(PY_WHITESPACE_JAVA_REGEX)}, ' '))"
    )
    return (
        f"SELECT word, COUNT(*) AS n FROM {view} "
        f"CROSS JOIN UNNEST(SPLIT({normalised}, ' ')) AS t(word) "
        "WHERE word <> '' GROUP BY word"
    )


class MapLine(TableFunction):
    """Calls the user's mapper on one line; keys and values travel pickled."""

    def __init__(self, mapper: Callable[[str], Iterable[tuple[Any, Any]]]):
        self.mapper = mapper

    def eval(self, line: str):
        dumps = pickle.dumps
        for key, value in self.mapper(line):
            yield dumps(key, 4), dumps(value, 4)


class ReduceValues:
    """Folds the pickled values of one key with the user's reducer.

    A pandas UDAF (the only kind Flink runs in batch mode): it receives every value of
    one key at once as a pandas Series of bytes.
    """

    def __init__(self, reducer: Callable[[Any, Any], Any]):
        self.reducer = reducer

    def __call__(self, values) -> bytes:
        return pickle.dumps(functools.reduce(self.reducer, map(pickle.loads, values)), 4)


def map_reduce(t_env: TableEnvironment, paths: Sequence[str], mapper, reducer) -> dict:
    """Lines -> Python UDTF (mapper) -> GROUP BY key -> Python UDAF (reducer)."""
    view = register_lines(t_env, paths)
    map_line = udtf(
        MapLine(mapper), result_types=[DataTypes.BYTES(), DataTypes.BYTES()], name="map_line"
    )
    reduce_values = udaf(
        ReduceValues(reducer), result_type=DataTypes.BYTES(), func_type="pandas", name="reduce"
    )
    t_env.create_temporary_function(f"{view}_map", map_line)
    t_env.create_temporary_function(f"{view}_reduce", reduce_values)
    select = (
        f"SELECT k, {view}_reduce(v) FROM {view}, "
        f"LATERAL TABLE({view}_map(line)) AS t(k, v) GROUP BY k"
    )
    out: dict = {}
    for row in results(t_env, "k BYTES, v BYTES", select):
        # the JSON format writes BYTES as base64 text
        out[pickle.loads(base64.b64decode(row["k"]))] = pickle.loads(base64.b64decode(row["v"]))
    return out


def wordcount(t_env: TableEnvironment, paths: Sequence[str]) -> dict[str, int]:
    view = register_lines(t_env, paths)
    return {
        row["word"]: int(row["n"])
        for row in results(t_env, "word STRING, n BIGINT", wordcount_sql(view))
    }


def results(t_env: TableEnvironment, columns: str, select: str) -> Iterator[dict[str, Any]]:
    """The rows of ``select``, written by the job to JSON files of a sink table of its own
    and read back once it finished: results leave a Flink job through a sink, as in
    production. (``collect()`` fetches every row over py4j, about 1 ms a row here: 6.5 s of
    a 1 MB word count's 8 s, spent in the client, not the engine.)"""
    out_dir = Path(tempfile.mkdtemp(prefix="distlab-flink-out-"))
    sink = f"distlab_sink_{next(_job_numbers)}"
    try:
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {sink} ({columns}) WITH ("
            f"'connector' = 'filesystem', 'path' = {_sql_string(out_dir.as_uri())}, "
            "'format' = 'json')"
        )
        try:
            t_env.execute_sql(f"INSERT INTO {sink} {select}").wait()
        finally:
            t_env.execute_sql(f"DROP TEMPORARY TABLE {sink}")
        # committed part files only: files in progress are hidden (a leading dot)
        for part in sorted(out_dir.rglob("*")):
            if part.is_file() and not part.name.startswith((".", "_")):
                with part.open(encoding="utf-8") as lines:
                    yield from (json.loads(line) for line in lines if line.strip())
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
