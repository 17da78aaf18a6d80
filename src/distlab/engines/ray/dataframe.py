"""Ray Data on the engine's cluster: the dataframe shape (:class:`RayDataframe`).

A query's Ray Data form (``query.frames["ray"]``, :mod:`distlab.workloads.tpch_ray`) gets
one Dataset per table, ``ray.data.read_parquet`` with its decimal columns cast to float64
(as a pandas user reads TPC-H: :mod:`distlab.engines.common.frames`), and ``api``, the
Ray Data names it uses (expressions, aggregates, a join's partition count). Ray Data plans
it and runs it in tasks on the cluster's workers; the small answer comes back to the
driver with ``to_pandas`` and gets its order, limit or summary there (``finish``).

Ray Data's settings (its DataContext, the driver's, sent with each dataset's tasks):

* ``use_datasource_v2 = False``: Ray 2.60's default Parquet reader starts 32
  FooterReader actors (32 worker processes) for every read to fetch file footers; on two
  cores a read of a 600 KB file took 3 to 15 s that way, 0.1 to 0.3 s with the V1 reader.
* ``read_op_min_num_blocks`` and ``default_hash_shuffle_parallelism``: a table is read
  into two blocks per CPU of the cluster (Ray's own floor; more where a block would pass
  its 128 MiB target) and a groupby's hash shuffle gets one partition per CPU; joins are
  given the same count (``api.partitions``). Ray's defaults, 200 of each, are for
  clusters of hundreds of cores: on two, every task's overhead showed (TPC-H at SF 1,
  warm: Q5 14 s, Q9 20 s, Q18 15 s with 200 read blocks; 5.5, 6.6 and 4.7 s with 4).
* progress bars off and Ray Data's logger at ERROR: it logs every dataset's plan and,
  when stdout is not a terminal, its progress every few seconds.

``ray.data`` is imported at the first query (about 1.5 s): users of the engine's tasks
and streams never pay it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from distlab.contracts import DistlabError
from distlab.contracts.dataframe import RAY_DATA_API, Answer, DataframeEngine, Query
from distlab.engines.common.frames import finish


class RayDataframe(DataframeEngine):
    """The dataframe contract in Ray Data: mixed into RayEngine, which supplies the
    cluster (``workers``: its CPUs)."""

    interface = "dataframe API (Ray Data)"
    _ray_data_api: SimpleNamespace | None = None

    def unsupported(self, query: Query) -> str | None:
        reason = query.not_expressible.get(RAY_DATA_API)
        if reason:
            return reason
        return None if RAY_DATA_API in query.frames else "no Ray Data form"

    def run_query(self, query: Query, tables: Mapping[str, str]) -> Answer:
        api = self._api()
        datasets = {name: _read(api, tables[name]) for name in query.tables}
        form = query.frames.get(RAY_DATA_API)
        if form is None:
            raise DistlabError(f"{query.name} has no Ray Data form")
        return finish(_collect(form(datasets, api)), query)

    def _api(self) -> SimpleNamespace:
        partitions = max(1, int(self.workers or 1))
        if self._ray_data_api is None or self._ray_data_api.partitions != partitions:
            self._ray_data_api = _ray_data(partitions)
        return self._ray_data_api


def _ray_data(partitions: int) -> SimpleNamespace:
    """Ray Data set up for a cluster of ``partitions`` CPUs (see the module docstring),
    and the names a query's form uses."""
    import ray.data
    from ray.data.aggregate import Count, Max, Mean, Min, Quantile, Std, Sum
    from ray.data.datatype import DataType
    from ray.data.expressions import col, lit

    context = ray.data.DataContext.get_current()
    context.use_datasource_v2 = False
    context.read_op_min_num_blocks = partitions
    context.default_hash_shuffle_parallelism = partitions
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return SimpleNamespace(
        ray_data=ray.data, float64=DataType.float64(), col=col, lit=lit,
        Sum=Sum, Mean=Mean, Count=Count, Std=Std, Min=Min, Max=Max, Quantile=Quantile,
        partitions=partitions,
    )  # fmt: skip


def _read(api: SimpleNamespace, path: str) -> Any:
    """One table as a Dataset, its decimal columns as float64."""
    import pyarrow as pa

    dataset = api.ray_data.read_parquet(os.path.abspath(path))
    schema = dataset.schema()
    types = zip(schema.names, schema.types, strict=True)
    decimals = [name for name, type_ in types if pa.types.is_decimal(type_)]
    if not decimals:
        return dataset
    return dataset.with_columns({name: api.col(name).cast(api.float64) for name in decimals})


def _collect(result: Any) -> Any:
    """The form's result in the driver as pandas: a Dataset's rows, or the one row of
    global aggregates ``Dataset.aggregate`` returns as a dict."""
    import pandas as pd

    if isinstance(result, dict):
        return pd.DataFrame([result])
    return result.to_pandas()
