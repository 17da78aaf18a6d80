"""Comparing query answers: one normalisation, one stated tolerance, a checksum per answer.

Every engine's answer (:class:`~distlab.contracts.dataframe.Answer`) and every reference
answer set is brought to the same plain form (:func:`normalise`): numbers as float
(Decimal, NumPy and integer results alike), dates as ISO text, strings stripped of the
padding fixed-width columns carry. Two answers agree when they have the same number of
rows and, row by row in their order, equal text and numbers within :data:`REL_TOL` of
the reference plus :data:`ABS_TOL` (a float sum of six million prices differs from the
exact decimal sum in its 13th digit; a rounding to cents, a dropped row or a wrong join
does not pass). A reference printed rounded (TPC-H's answer sets give two decimals)
also allows half a unit of its last printed digit: 25.52 stands for [25.515, 25.525]. Rows are compared in the query's order; answers of queries without a
total order are sorted first (``order_free``).

:func:`checksum` is db-benchmark's ``chk`` idea made comparable across engines: the
row count and the sum of each numeric column, rounded to 9 significant digits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable, Sequence
from typing import Any

#: the stated tolerance: |got - want| <= ABS_TOL + REL_TOL * |want|
REL_TOL = 1e-9
ABS_TOL = 1e-6

Row = tuple[Any, ...]


def plain(value: Any) -> Any:
    """One spelling per value (see the module docstring)."""
    if value is None or isinstance(value, str | bool):
        return value.rstrip() if isinstance(value, str) else value
    if isinstance(value, decimal.Decimal | int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # a NumPy scalar
        return plain(value.item())
    if hasattr(value, "isoformat"):  # a pandas Timestamp
        return plain(value.to_pydatetime())
    return value


def normalise(rows: Iterable[Sequence[Any]], order_free: bool = False) -> list[Row]:
    out = [tuple(plain(v) for v in row) for row in rows]
    if order_free:
        out.sort(
            key=lambda row: tuple((v is None, str(v) if isinstance(v, str) else v) for v in row)
        )
    return out


def _close(got: Any, want: Any, rounding: float) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        if math.isnan(want) or math.isnan(got):
            return math.isnan(want) and math.isnan(got)
        return abs(got - want) <= ABS_TOL + REL_TOL * abs(want) + rounding
    return got == want


def compare(
    got: list[Row], want: list[Row], columns: Sequence[str],
    rounding: list[tuple[float, ...]] | None = None,
) -> str | None:  # fmt: skip
    """None when ``got`` agrees with ``want``; else the first difference, in one line.
    ``rounding``: per reference cell, half a unit of its last printed digit (0: exact)."""
    if len(got) != len(want):
        return f"{len(got)} rows where the reference has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if len(g) != len(w):
            return f"row {i + 1}: {len(g)} columns where the reference has {len(w)}"
        slack = rounding[i] if rounding else (0.0,) * len(w)
        for name, a, b, r in zip(columns, g, w, slack, strict=True):
            if not _close(a, b, r):
                return f"row {i + 1}, {name}: {a!r} where the reference has {b!r}"
    return None


def checksum(rows: list[Row]) -> str:
    """The answer's row count and each numeric column's sum (9 significant digits)."""
    if not rows:
        return "rows=0"
    sums = []
    for column in zip(*rows, strict=True):
        numbers = [v for v in column if isinstance(v, float)]
        if len(numbers) == len(column):
            sums.append(f"{math.fsum(numbers):.9g}")
    return f"rows={len(rows)} sums=" + ",".join(sums)


def read_answer_table(text: str) -> tuple[tuple[str, ...], list[Row], list[tuple[float, ...]]]:
    """A pipe-delimited answer set (a header line, then one row a line): its header, its
    rows and, per cell, half a unit of the cell's last printed digit."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = tuple(lines[0].split("|"))
    rows, rounding = [], []
    for line in lines[1:]:
        cells = [_typed(cell.strip()) for cell in line.split("|")]
        rows.append(tuple(value for value, _ in cells))
        rounding.append(tuple(half for _, half in cells))
    return header, rows, rounding


def _typed(cell: str) -> tuple[Any, float]:
    try:
        value = float(cell)
    except ValueError:
        return cell, 0.0
    decimals = len(cell.partition(".")[2]) if "." in cell else 0
    # a whole number (a count, a key) is exact; a printed fraction stands for its interval
    return value, (0.5 * 10.0**-decimals if decimals else 0.0)
