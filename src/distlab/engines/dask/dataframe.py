"""Dask DataFrame: the dataframe shape on the engine's cluster (a mixin of DaskEngine).

A query reads its tables with ``dask.dataframe.read_parquet`` (lazily: Dask's optimizer
prunes the columns a query does not use and pushes its filters into the scan), runs the
query's pandas-API form unchanged (:mod:`distlab.workloads.tpch_frames`: the same text
pandas runs) and computes the result through the engine's Client, so every partition is
read and reduced by the cluster's workers. Decimal columns become float64 and date
columns datetime64[ns], the types a pandas user reads (engines.common.frames).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any, ClassVar

from distlab.contracts.dataframe import PANDAS_API, Answer, DataframeEngine, Query
from distlab.engines.common.frames import arrow_to_pandas_types, finish
from distlab.engines.dask.futures import DaskFuture

#: Parquet bytes per partition. Dask's default (256 MiB) reads a file smaller than that
#: as one partition, so one worker does all the work: TPC-H SF 1's lineitem (232 MB, one
#: file) runs on one core. 64 MiB gives it 6 partitions; SF 1's seven queries took
#: 13.3 s at 64 MiB, 14.7 s at 32 MiB, 19.2 s at the default, 34.8 s at one partition
#: per row group (53: the tasks' overhead dominates), 2 workers, warm runs.
_BLOCKSIZE = "64MiB"


class DaskDataframe(DataframeEngine):
    """``run_query``, ``unsupported`` and ``spill_folders`` for DaskEngine, which
    provides ``client``, ``cluster`` and ``_check_alive``."""

    interface: ClassVar[str] = "dataframe API (Dask DataFrame)"
    client: Any
    cluster: Any

    def unsupported(self, query: Query) -> str | None:
        if PANDAS_API not in query.frames:
            return f"{query.name} has no pandas form"
        return query.not_expressible.get(PANDAS_API)

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        import pandas as pd

        _unlock_cached_properties()
        # As current client, ours is the one the query's planning sees (a Dask user's
        # default client): merges and groupbys then choose the distributed (p2p) shuffle.
        with self.client.as_current():
            frames = {name: _read(tables[name]) for name in query.tables}
            result = query.frames[PANDAS_API](frames)
            if query.summary is not None and _is_frame(result):
                return self._summary(result, query)
            collected = self._compute(result)
        if not isinstance(collected, pd.DataFrame | pd.Series):  # a Scalar: one value
            collected = pd.DataFrame({"value": [collected]})
        return finish(collected, query)

    def _summary(self, result: Any, query: Query) -> Answer:
        """The row count and the measure columns' sums, reduced on the workers: only
        one row comes back, however large the result (a groupby's millions of groups)."""
        measures = list(query.summary or ())
        ones = "n_rows"
        while ones in measures:  # a measure column of that name: count under another
            ones = f"_{ones}"
        # The count is the sum of a column of ones: one reduction, one pass over result.
        sums = self._compute(result[measures].assign(**{ones: 1}).sum())
        row = (int(sums[ones]), *(float(sums[c]) for c in measures))
        return Answer(query.summary_columns(), (row,))

    def _compute(self, collection: Any) -> Any:
        future = self.client.compute(collection)
        # Embedded cluster: wait watching the workers (TaskLost if all of them died).
        check = self._check_alive if self.cluster is not None else None  # type: ignore[attr-defined]
        try:
            return DaskFuture(future, check).result()
        finally:
            # A Future gives its result up from the client's event loop, later: the same
            # query asked again before that finds its answer still in the workers' memory
            # and runs nothing (a repetition timed at ~0 s). Release it now, and wait for
            # the loop to have sent the release (its callbacks run in order), so that it
            # reaches the scheduler before the next query's graph.
            future.release()
            self.client.sync(_loop_turn)

    def spill_folders(self) -> list[str]:
        """Each worker's own directory, where it spills to disk (``storage``) and keeps
        its shuffle files; known for the embedded cluster only (the workers of another
        scheduler may be on other machines)."""
        if self.cluster is None:
            return []
        nannies = list(self.cluster.workers.values())
        return sorted(n.worker_dir for n in nannies if getattr(n, "worker_dir", None))


async def _loop_turn() -> None:
    """Nothing, run on the client's event loop: when it returns, the callbacks queued on
    the loop before it have run."""


def _unlock_cached_properties() -> None:
    """Make Dask's expressions' cached properties lock-free, as they are on Python 3.12+.

    Before 3.12, functools.cached_property holds one lock per property of a class, not
    per instance (python/cpython#87634). Planning a query that computes while it plans
    (sort_values samples its column for the partitions' bounds) holds the lock of
    ``divisions`` while the scheduler builds that computation's graph; the embedded
    cluster's scheduler runs in this process, on another thread, and needs the same
    lock to build it: both wait forever. Dask's expressions are immutable (a property
    computed twice by two threads gives the same value), which is why 3.12 dropped it.
    """
    if sys.version_info >= (3, 12):
        return
    import dask.dataframe  # noqa: F401  (its expression classes, to be unlocked)
    from dask._expr import Expr

    unlocked, seen, classes = nullcontext(), set(), [Expr]
    while classes:
        cls = classes.pop()
        if cls not in seen:
            seen.add(cls)
            classes.extend(cls.__subclasses__())
            for attribute in vars(cls).values():
                if isinstance(attribute, functools.cached_property):
                    attribute.lock = unlocked


def _is_frame(result: Any) -> bool:
    import dask.dataframe as dd

    return isinstance(result, dd.DataFrame)


def _read(path: str) -> Any:
    """One Parquet table (a file or a folder of them) as a lazy Dask DataFrame, its
    decimals as float64 and its dates as datetime64[ns]."""
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

    # Decimals and dates arrive as Arrow-backed columns whatever the user's Dask config
    # says about strings; a cast through the Arrow type of the target stays in Arrow
    # (pandas' own cast from a decimal goes through a Python object per value, ~100x slower).
    def arrow_backed(arrow_type: Any) -> Any:
        if pa.types.is_decimal(arrow_type) or pa.types.is_date(arrow_type):
            return pd.ArrowDtype(arrow_type)
        return None

    frame = dd.read_parquet(
        path, blocksize=_BLOCKSIZE, arrow_to_pandas={"types_mapper": arrow_backed}
    )
    schema = pa.schema(
        [(name, dtype.pyarrow_dtype) for name, dtype in frame.dtypes.items()
         if isinstance(dtype, pd.ArrowDtype)]
    )  # fmt: skip
    casts = arrow_to_pandas_types(schema)
    if not casts:
        return frame
    arrow_of = {"float64": pa.float64(), "datetime64[ns]": pa.timestamp("ns")}
    via_arrow = {name: pd.ArrowDtype(arrow_of[dtype]) for name, dtype in casts.items()}
    return frame.astype(via_arrow).astype(casts)
