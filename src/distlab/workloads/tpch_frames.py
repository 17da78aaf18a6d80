"""The TPC-H queries in the pandas API, as a pandas or Dask DataFrame user writes them.

Each function takes the tables (name -> frame) and returns the answer's frame before its
final ORDER BY and LIMIT, which the engine applies to the collected result (a Dask user
calls ``.compute()`` on the aggregate and sorts the few rows in pandas; the query's
``order`` and ``limit`` say how). Only methods pandas and Dask DataFrame share are used,
so the same text runs on both. Money columns arrive as float64 and dates as datetime64
(the engines read Parquet that way: :mod:`distlab.engines.common.frames`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Tables = Mapping[str, Any]


def day(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def q1(t: Tables) -> Any:
    li = t["lineitem"]
    li = li[li.l_shipdate <= day("1998-09-02")]
    li = li.assign(disc_price=li.l_extendedprice * (1 - li.l_discount))
    li = li.assign(charge=li.disc_price * (1 + li.l_tax))
    return (
        li.groupby(["l_returnflag", "l_linestatus"])
        .agg(
            sum_qty=("l_quantity", "sum"),
            sum_base_price=("l_extendedprice", "sum"),
            sum_disc_price=("disc_price", "sum"),
            sum_charge=("charge", "sum"),
            avg_qty=("l_quantity", "mean"),
            avg_price=("l_extendedprice", "mean"),
            avg_disc=("l_discount", "mean"),
            count_order=("l_quantity", "count"),
        )
        .reset_index()
    )


def q3(t: Tables) -> Any:
    c = t["customer"]
    c = c[c.c_mktsegment == "BUILDING"][["c_custkey"]]
    o = t["orders"]
    o = o[o.o_orderdate < day("1995-03-15")][
        ["o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"]
    ]
    li = t["lineitem"]
    li = li[li.l_shipdate > day("1995-03-15")][["l_orderkey", "l_extendedprice", "l_discount"]]
    j = c.merge(o, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(li, left_on="o_orderkey", right_on="l_orderkey")
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    out = j.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).agg(revenue=("revenue", "sum"))
    return out.reset_index()[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]]


def q5(t: Tables) -> Any:
    r = t["region"]
    n = t["nation"].merge(r[r.r_name == "ASIA"], left_on="n_regionkey", right_on="r_regionkey")
    s = t["supplier"].merge(n, left_on="s_nationkey", right_on="n_nationkey")
    o = t["orders"]
    o = o[(o.o_orderdate >= day("1994-01-01")) & (o.o_orderdate < day("1995-01-01"))]
    j = t["customer"].merge(o, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(t["lineitem"], left_on="o_orderkey", right_on="l_orderkey")
    j = j.merge(s, left_on=["l_suppkey", "c_nationkey"], right_on=["s_suppkey", "s_nationkey"])
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    return j.groupby("n_name").agg(revenue=("revenue", "sum")).reset_index()


def q6(t: Tables) -> Any:
    li = t["lineitem"]
    li = li[
        (li.l_shipdate >= day("1994-01-01"))
        & (li.l_shipdate < day("1995-01-01"))
        & (li.l_discount >= 0.05)
        & (li.l_discount <= 0.07)
        & (li.l_quantity < 24)
    ]
    return li.assign(revenue=li.l_extendedprice * li.l_discount)[["revenue"]].sum()


def q9(t: Tables) -> Any:
    p = t["part"]
    p = p[p.p_name.str.contains("green", regex=False)][["p_partkey"]]
    j = t["lineitem"].merge(p, left_on="l_partkey", right_on="p_partkey")
    j = j.merge(
        t["partsupp"], left_on=["l_suppkey", "l_partkey"], right_on=["ps_suppkey", "ps_partkey"]
    )
    j = j.merge(t["supplier"], left_on="l_suppkey", right_on="s_suppkey")
    j = j.merge(t["orders"], left_on="l_orderkey", right_on="o_orderkey")
    j = j.merge(t["nation"], left_on="s_nationkey", right_on="n_nationkey")
    j = j.assign(
        o_year=j.o_orderdate.dt.year,
        amount=j.l_extendedprice * (1 - j.l_discount) - j.ps_supplycost * j.l_quantity,
    )
    out = j.groupby(["n_name", "o_year"]).agg(sum_profit=("amount", "sum")).reset_index()
    return out.rename(columns={"n_name": "nation"})


def q13(t: Tables) -> Any:
    o = t["orders"]
    o = o[~o.o_comment.str.contains("special.*requests", regex=True)][["o_orderkey", "o_custkey"]]
    j = t["customer"][["c_custkey"]].merge(o, left_on="c_custkey", right_on="o_custkey", how="left")
    counts = j.groupby("c_custkey").agg(c_count=("o_orderkey", "count")).reset_index()
    return counts.groupby("c_count").agg(custdist=("c_custkey", "count")).reset_index()


def q18(t: Tables) -> Any:
    li = t["lineitem"]
    per_order = li.groupby("l_orderkey").agg(total=("l_quantity", "sum")).reset_index()
    big = per_order[per_order.total > 300][["l_orderkey"]]
    o = t["orders"].merge(big, left_on="o_orderkey", right_on="l_orderkey")
    o = o[["o_orderkey", "o_custkey", "o_orderdate", "o_totalprice"]]
    j = o.merge(t["customer"], left_on="o_custkey", right_on="c_custkey")
    j = j.merge(li[["l_orderkey", "l_quantity"]], left_on="o_orderkey", right_on="l_orderkey")
    keys = ["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]
    return j.groupby(keys).agg(sum_qty=("l_quantity", "sum")).reset_index()


FRAMES = {"q1": q1, "q3": q3, "q5": q5, "q6": q6, "q9": q9, "q13": q13, "q18": q18}

#: the final ORDER BY of each query, as (column, ascending) pairs, and its LIMIT
ORDER = {
    "q1": ((("l_returnflag", True), ("l_linestatus", True)), None),
    "q3": ((("revenue", False), ("o_orderdate", True)), 10),
    "q5": ((("revenue", False),), None),
    "q6": ((), None),
    "q9": ((("nation", True), ("o_year", False)), None),
    "q13": ((("custdist", False), ("c_count", False)), None),
    "q18": ((("o_totalprice", False), ("o_orderdate", True)), 100),
}
