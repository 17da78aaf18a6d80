"""The TPC-H queries in Ray Data's API, as a Ray Data user writes them.

Each function takes the tables (name -> ``ray.data.Dataset``) and ``api``, the Ray Data
names the engine hands in (this module does not import Ray): ``col`` and ``lit``
(``ray.data.expressions``), the aggregates ``Sum``, ``Mean``, ``Count``, ``Std``,
``Min``, ``Max``, ``Quantile`` (``ray.data.aggregate``) and ``partitions``, the partition
count a join's hash shuffle is asked for (``Dataset.join`` requires one). Filters and
derived columns are expressions (``filter(expr=...)``, ``with_columns``), which Ray Data
evaluates with Arrow kernels; joins are ``Dataset.join``; groupings
``groupby(...).aggregate(...)``. A function returns the answer's Dataset before its final
ORDER BY and LIMIT (the query's ``order`` and ``limit``, applied by the engine to the
collected rows, as for the pandas forms), or the dict ``Dataset.aggregate`` returns for a
global aggregate (Q6). Money columns arrive as float64, dates as Arrow date32 (compared
with ``datetime.date`` literals).

A join's right key columns are dropped from its result (Ray Data's joins keep the left
keys only), so the queries group by the left names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

Tables = Mapping[str, Any]


def _join(left: Any, right: Any, api: Any, on: tuple[str, ...], right_on: tuple[str, ...],
          how: str = "inner") -> Any:  # fmt: skip
    return left.join(right, how, api.partitions, on=on, right_on=right_on)


def q1(t: Tables, api: Any) -> Any:
    col, lit = api.col, api.lit
    li = t["lineitem"].filter(expr=col("l_shipdate") <= lit(dt.date(1998, 9, 2)))
    disc_price = col("l_extendedprice") * (1 - col("l_discount"))
    li = li.with_columns({"disc_price": disc_price, "charge": disc_price * (1 + col("l_tax"))})
    return li.groupby(["l_returnflag", "l_linestatus"]).aggregate(
        api.Sum(on="l_quantity", alias_name="sum_qty"),
        api.Sum(on="l_extendedprice", alias_name="sum_base_price"),
        api.Sum(on="disc_price", alias_name="sum_disc_price"),
        api.Sum(on="charge", alias_name="sum_charge"),
        api.Mean(on="l_quantity", alias_name="avg_qty"),
        api.Mean(on="l_extendedprice", alias_name="avg_price"),
        api.Mean(on="l_discount", alias_name="avg_disc"),
        api.Count(alias_name="count_order"),
    )


def q3(t: Tables, api: Any) -> Any:
    col, lit = api.col, api.lit
    day = lit(dt.date(1995, 3, 15))
    c = t["customer"].filter(expr=col("c_mktsegment") == "BUILDING").select_columns(["c_custkey"])
    o = t["orders"].filter(expr=col("o_orderdate") < day)
    o = o.select_columns(["o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"])
    li = t["lineitem"].filter(expr=col("l_shipdate") > day)
    li = li.select_columns(["l_orderkey", "l_extendedprice", "l_discount"])
    j = _join(o, c, api, ("o_custkey",), ("c_custkey",))
    j = _join(li, j, api, ("l_orderkey",), ("o_orderkey",))
    j = j.with_columns({"revenue": col("l_extendedprice") * (1 - col("l_discount"))})
    out = j.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).aggregate(
        api.Sum(on="revenue", alias_name="revenue")
    )
    return out.select_columns(["l_orderkey", "revenue", "o_orderdate", "o_shippriority"])


def q5(t: Tables, api: Any) -> Any:
    col, lit = api.col, api.lit
    r = t["region"].filter(expr=col("r_name") == "ASIA").select_columns(["r_regionkey"])
    n = _join(t["nation"], r, api, ("n_regionkey",), ("r_regionkey",))
    s = _join(t["supplier"], n, api, ("s_nationkey",), ("n_nationkey",))
    s = s.select_columns(["s_suppkey", "s_nationkey", "n_name"])
    o = t["orders"].filter(
        expr=(col("o_orderdate") >= lit(dt.date(1994, 1, 1)))
        & (col("o_orderdate") < lit(dt.date(1995, 1, 1)))
    )
    o = o.select_columns(["o_orderkey", "o_custkey"])
    c = t["customer"].select_columns(["c_custkey", "c_nationkey"])
    j = _join(o, c, api, ("o_custkey",), ("c_custkey",))
    li = t["lineitem"].select_columns(["l_orderkey", "l_suppkey", "l_extendedprice", "l_discount"])
    j = _join(li, j, api, ("l_orderkey",), ("o_orderkey",))
    j = _join(j, s, api, ("l_suppkey", "c_nationkey"), ("s_suppkey", "s_nationkey"))
    j = j.with_columns({"revenue": col("l_extendedprice") * (1 - col("l_discount"))})
    return j.groupby("n_name").aggregate(api.Sum(on="revenue", alias_name="revenue"))


def q6(t: Tables, api: Any) -> Any:
    col, lit = api.col, api.lit
    li = t["lineitem"].filter(
        expr=(col("l_shipdate") >= lit(dt.date(1994, 1, 1)))
        & (col("l_shipdate") < lit(dt.date(1995, 1, 1)))
        & (col("l_discount") >= 0.05)
        & (col("l_discount") <= 0.07)
        & (col("l_quantity") < 24)
    )
    li = li.with_columns({"revenue": col("l_extendedprice") * col("l_discount")})
    return li.aggregate(api.Sum(on="revenue", alias_name="revenue"))


def q9(t: Tables, api: Any) -> Any:
    col = api.col
    p = t["part"].filter(expr=col("p_name").str.contains("green")).select_columns(["p_partkey"])
    li = t["lineitem"].select_columns(
        ["l_orderkey", "l_partkey", "l_suppkey", "l_quantity", "l_extendedprice", "l_discount"]
    )
    j = _join(li, p, api, ("l_partkey",), ("p_partkey",))
    ps = t["partsupp"].select_columns(["ps_partkey", "ps_suppkey", "ps_supplycost"])
    j = _join(j, ps, api, ("l_suppkey", "l_partkey"), ("ps_suppkey", "ps_partkey"))
    s = t["supplier"].select_columns(["s_suppkey", "s_nationkey"])
    j = _join(j, s, api, ("l_suppkey",), ("s_suppkey",))
    o = t["orders"].select_columns(["o_orderkey", "o_orderdate"])
    j = _join(j, o, api, ("l_orderkey",), ("o_orderkey",))
    n = t["nation"].select_columns(["n_nationkey", "n_name"])
    j = _join(j, n, api, ("s_nationkey",), ("n_nationkey",))
    j = j.with_columns(
        {
            "nation": col("n_name"),
            "o_year": col("o_orderdate").dt.year(),
            "amount": col("l_extendedprice") * (1 - col("l_discount"))
            - col("ps_supplycost") * col("l_quantity"),
        }
    )
    return j.groupby(["nation", "o_year"]).aggregate(api.Sum(on="amount", alias_name="sum_profit"))


def q13(t: Tables, api: Any) -> Any:
    col = api.col
    o = t["orders"].filter(expr=~col("o_comment").str.match_regex("special.*requests"))
    o = o.select_columns(["o_orderkey", "o_custkey"])
    c = t["customer"].select_columns(["c_custkey"])
    j = _join(c, o, api, ("c_custkey",), ("o_custkey",), how="left_outer")
    # Count(on=..., ignore_nulls=True) counts the orders, 0 for a customer without any
    counts = j.groupby("c_custkey").aggregate(
        api.Count(on="o_orderkey", ignore_nulls=True, alias_name="c_count")
    )
    return counts.groupby("c_count").aggregate(api.Count(alias_name="custdist"))


def q18(t: Tables, api: Any) -> Any:
    col = api.col
    li = t["lineitem"].select_columns(["l_orderkey", "l_quantity"])
    per_order = li.groupby("l_orderkey").aggregate(api.Sum(on="l_quantity", alias_name="total"))
    big = per_order.filter(expr=col("total") > 300).select_columns(["l_orderkey"])
    o = t["orders"].select_columns(["o_orderkey", "o_custkey", "o_orderdate", "o_totalprice"])
    o = _join(o, big, api, ("o_orderkey",), ("l_orderkey",), how="left_semi")
    c = t["customer"].select_columns(["c_custkey", "c_name"])
    j = _join(o, c, api, ("o_custkey",), ("c_custkey",))
    j = _join(j, li, api, ("o_orderkey",), ("l_orderkey",))
    keys = ["c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]
    out = j.groupby(keys).aggregate(api.Sum(on="l_quantity", alias_name="sum_qty"))
    return out.rename_columns({"o_custkey": "c_custkey"})


#: the queries' Ray Data forms (``Query.frames["ray"]``)
FRAMES: dict[str, Callable[[Tables, Any], Any]] = {
    "q1": q1, "q3": q3, "q5": q5, "q6": q6, "q9": q9, "q13": q13, "q18": q18,
}  # fmt: skip

#: TPC-H queries Ray Data cannot express (``Query.not_expressible["ray"]``): none of the
#: seven; Ray 2.60 has inner, outer, semi and anti equi-joins, regex and date-part
#: expressions and every aggregate they use
NOT_EXPRESSIBLE: dict[str, str] = {}
