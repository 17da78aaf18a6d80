"""The batch contract: map/reduce over a partitioned data set, and named built-in operators.

* ``map_reduce(paths, mapper, reducer)``: Hadoop-style map/reduce over the lines of text
  files with Python functions: ``mapper(line)`` yields (key, value) pairs, ``reducer(a,
  b)`` folds two values of one key; the result is ``{key: value}``.
  ``map_reduce_native`` says whether it runs on the engine's own batch operators or on
  distlab's tasks (:func:`task_map_reduce`, one task per file plus a combine).
* ``run_builtin(op)``: an operation the engine runs with its own built-in operators (no
  Python UDF), named by a typed :class:`BuiltinOp` that the engine lists in
  ``builtin_ops``; today :class:`WordCount` (Spark DataFrame functions, Flink SQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from distlab.contracts.lifecycle import BATCH, Engine

Mapper = Callable[[str], Iterable[tuple[Any, Any]]]
Reducer = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class BuiltinOp:
    """A named operation an engine may offer with its own operators."""


@dataclass(frozen=True)
class WordCount(BuiltinOp):
    """Count whitespace-separated words (Python's ``str.split()``) in text files."""

    paths: tuple[str, ...]


class BatchEngine(Engine):
    """An engine that runs batch jobs: implement ``map_reduce``."""

    contract_shape: ClassVar[str] = BATCH
    #: True when map_reduce runs on the engine's own batch operators
    map_reduce_native: ClassVar[bool] = True
    #: the BuiltinOp types run_builtin accepts
    builtin_ops: ClassVar[frozenset[type[BuiltinOp]]] = frozenset()

    def map_reduce(self, paths: Sequence[str], mapper: Mapper, reducer: Reducer) -> dict[Any, Any]:
        raise NotImplementedError

    def run_builtin(self, op: BuiltinOp) -> Any:
        raise NotImplementedError(f"{self.name} has no built-in {type(op).__name__}")

    def job_info(self) -> dict[str, Any]:
        """What the engine's last batch job was, as the engine sees it (e.g. a YARN
        application id, the HDFS paths): flat names and values, recorded with the cell."""
        return {}


def _map_combine_file(path: str, mapper: Mapper, reducer: Reducer) -> dict:
    out: dict = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            for k, v in mapper(line):
                out[k] = reducer(out[k], v) if k in out else v
    return out


def task_map_reduce(engine, paths: Sequence[str], mapper: Mapper, reducer: Reducer) -> dict:
    """map_reduce on any task engine: one task per file (the mapper plus a local
    combine), the final reduce in the driver."""
    parts = engine.gather([engine.submit(_map_combine_file, p, mapper, reducer) for p in paths])
    out: dict[Any, Any] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = reducer(out[k], v) if k in out else v
    return out
