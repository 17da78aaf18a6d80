"""The TPC-H queries in PySpark's DataFrame API, as a PySpark user writes them.

Each function takes the tables (name -> ``pyspark.sql.DataFrame``) and ``api``, the
PySpark names the engine hands in (this module does not import PySpark): ``F``
(``pyspark.sql.functions``) and ``Window`` (``pyspark.sql.Window``). Filters, derived
columns and aggregates are column expressions (``filter``, ``withColumn``,
``groupBy(...).agg``); joins are ``DataFrame.join`` on an equality of columns (TPC-H's
column names are unique across tables, so no join needs aliases). A function returns the
answer's DataFrame before its final ORDER BY and LIMIT (the query's ``order`` and
``limit``), which the engine applies in Spark before collecting, as the SQL text does.

The tables arrive as Spark reads the Parquet files, decimals as decimals and dates as
dates, exactly as the SQL form sees them: both forms compute in the same types, and
their answers are checked against the same reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

Tables = Mapping[str, Any]


def q1(t: Tables, api: Any) -> Any:
    F = api.F
    li = t["lineitem"].filter(F.col("l_shipdate") <= F.lit(dt.date(1998, 9, 2)))
    disc_price = F.col("l_extendedprice") * (1 - F.col("l_discount"))
    return li.groupBy("l_returnflag", "l_linestatus").agg(
        F.sum("l_quantity").alias("sum_qty"),
        F.sum("l_extendedprice").alias("sum_base_price"),
        F.sum(disc_price).alias("sum_disc_price"),
        F.sum(disc_price * (1 + F.col("l_tax"))).alias("sum_charge"),
        F.avg("l_quantity").alias("avg_qty"),
        F.avg("l_extendedprice").alias("avg_price"),
        F.avg("l_discount").alias("avg_disc"),
        F.count(F.lit(1)).alias("count_order"),
    )


def q3(t: Tables, api: Any) -> Any:
    F = api.F
    day = F.lit(dt.date(1995, 3, 15))
    c = t["customer"].filter(F.col("c_mktsegment") == "BUILDING").select("c_custkey")
    o = t["orders"].filter(F.col("o_orderdate") < day)
    li = t["lineitem"].filter(F.col("l_shipdate") > day)
    j = c.join(o, F.col("c_custkey") == F.col("o_custkey"))
    j = j.join(li, F.col("l_orderkey") == F.col("o_orderkey"))
    revenue = F.col("l_extendedprice") * (1 - F.col("l_discount"))
    out = j.groupBy("l_orderkey", "o_orderdate", "o_shippriority").agg(
        F.sum(revenue).alias("revenue")
    )
    return out.select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")


def q5(t: Tables, api: Any) -> Any:
    F = api.F
    r = t["region"].filter(F.col("r_name") == "ASIA")
    n = t["nation"].join(r, F.col("n_regionkey") == F.col("r_regionkey"))
    s = t["supplier"].join(n, F.col("s_nationkey") == F.col("n_nationkey"))
    o = t["orders"].filter(
        (F.col("o_orderdate") >= F.lit(dt.date(1994, 1, 1)))
        & (F.col("o_orderdate") < F.lit(dt.date(1995, 1, 1)))
    )
    j = t["customer"].join(o, F.col("c_custkey") == F.col("o_custkey"))
    j = j.join(t["lineitem"], F.col("l_orderkey") == F.col("o_orderkey"))
    j = j.join(
        s,
        (F.col("l_suppkey") == F.col("s_suppkey")) & (F.col("c_nationkey") == F.col("s_nationkey")),
    )
    revenue = F.col("l_extendedprice") * (1 - F.col("l_discount"))
    return j.groupBy("n_name").agg(F.sum(revenue).alias("revenue"))


def q6(t: Tables, api: Any) -> Any:
    F = api.F
    li = t["lineitem"].filter(
        (F.col("l_shipdate") >= F.lit(dt.date(1994, 1, 1)))
        & (F.col("l_shipdate") < F.lit(dt.date(1995, 1, 1)))
        & F.col("l_discount").between(0.05, 0.07)
        & (F.col("l_quantity") < 24)
    )
    return li.agg(F.sum(F.col("l_extendedprice") * F.col("l_discount")).alias("revenue"))


def q9(t: Tables, api: Any) -> Any:
    F = api.F
    p = t["part"].filter(F.col("p_name").contains("green")).select("p_partkey")
    j = t["lineitem"].join(p, F.col("l_partkey") == F.col("p_partkey"))
    j = j.join(
        t["partsupp"],
        (F.col("ps_suppkey") == F.col("l_suppkey")) & (F.col("ps_partkey") == F.col("l_partkey")),
    )
    j = j.join(t["supplier"], F.col("s_suppkey") == F.col("l_suppkey"))
    j = j.join(t["orders"], F.col("o_orderkey") == F.col("l_orderkey"))
    j = j.join(t["nation"], F.col("s_nationkey") == F.col("n_nationkey"))
    profit = j.select(
        F.col("n_name").alias("nation"),
        F.year("o_orderdate").alias("o_year"),
        (
            F.col("l_extendedprice") * (1 - F.col("l_discount"))
            - F.col("ps_supplycost") * F.col("l_quantity")
        ).alias("amount"),
    )
    return profit.groupBy("nation", "o_year").agg(F.sum("amount").alias("sum_profit"))


def q13(t: Tables, api: Any) -> Any:
    F = api.F
    # the ON clause's comment filter, applied to the orders before the outer join
    o = t["orders"].filter(~F.col("o_comment").like("%special%requests%"))
    j = t["customer"].join(o, F.col("c_custkey") == F.col("o_custkey"), "left_outer")
    counts = j.groupBy("c_custkey").agg(F.count("o_orderkey").alias("c_count"))
    return counts.groupBy("c_count").agg(F.count(F.lit(1)).alias("custdist"))


def q18(t: Tables, api: Any) -> Any:
    F = api.F
    li = t["lineitem"]
    big = (
        li.groupBy("l_orderkey")
        .agg(F.sum("l_quantity").alias("total"))
        .filter(F.col("total") > 300)
        .select(F.col("l_orderkey").alias("big_orderkey"))
    )
    o = t["orders"].join(big, F.col("o_orderkey") == F.col("big_orderkey"), "left_semi")
    j = t["customer"].join(o, F.col("c_custkey") == F.col("o_custkey"))
    j = j.join(li, F.col("o_orderkey") == F.col("l_orderkey"))
    keys = ("c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
    return j.groupBy(*keys).agg(F.sum("l_quantity").alias("sum_qty"))


#: the queries' PySpark forms (``Query.frames["spark"]``)
FRAMES: dict[str, Callable[[Tables, Any], Any]] = {
    "q1": q1, "q3": q3, "q5": q5, "q6": q6, "q9": q9, "q13": q13, "q18": q18,
}  # fmt: skip

#: TPC-H queries PySpark's DataFrame API cannot express: none (it has every join kind,
#: LIKE, date parts and every aggregate the seven use)
NOT_EXPRESSIBLE: dict[str, str] = {}
