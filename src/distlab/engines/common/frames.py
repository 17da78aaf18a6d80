"""What the engines that run the pandas API share: reading Parquet into pandas' types,
and turning a collected result into an :class:`Answer`.

Parquet's decimal columns become float64 and its dates datetime64, as a pandas user
reads TPC-H (a column of Python ``Decimal`` objects would make every sum a Python loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distlab.contracts.dataframe import Answer, Query


def arrow_to_pandas_types(schema: Any) -> dict[str, str]:
    """Column -> pandas dtype for the columns whose Arrow type pandas would hold as
    Python objects (decimals, dates)."""
    import pyarrow as pa

    casts = {}
    for field in schema:
        if pa.types.is_decimal(field.type):
            casts[field.name] = "float64"
        elif pa.types.is_date(field.type):
            casts[field.name] = "datetime64[ns]"
    return casts


def read_pandas(path: str, columns: list[str] | None = None) -> Any:
    """One Parquet table as a pandas DataFrame in pandas' own types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    fields = [
        pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema
    ]
    frame = table.cast(pa.schema(fields)).to_pandas(date_as_object=False)
    for name, dtype in arrow_to_pandas_types(table.schema).items():
        if dtype.startswith("datetime64"):
            frame[name] = frame[name].astype(dtype)
    return frame


def finish(result: Any, query: Query) -> Answer:
    """A collected pandas result (a DataFrame, or a Series of one row's values) as the
    query's answer: its final order and limit applied, or its summary when it has one."""
    import pandas as pd

    if isinstance(result, pd.Series):
        result = result.to_frame().T
    if query.summary is not None:
        row = (len(result), *(float(result[c].sum()) for c in query.summary))
        return Answer(query.summary_columns(), (row,))
    if query.order:
        names = [name for name, _ in query.order]
        result = result.sort_values(names, ascending=[up for _, up in query.order], kind="stable")
    if query.limit is not None:
        result = result.head(query.limit)
    rows = tuple(tuple(row) for row in result.itertuples(index=False, name=None))
    return Answer(tuple(str(c) for c in result.columns), rows)


def pandas_tables(tables: Mapping[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: read_pandas(tables[name]) for name in names}
