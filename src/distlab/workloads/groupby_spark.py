"""db-benchmark's groupby questions 1-10 in PySpark's DataFrame API, as a PySpark user
writes them (db-benchmark's own Spark script runs the SQL text; this is its DataFrame
counterpart).

Each function takes the tables (``x`` -> ``pyspark.sql.DataFrame``) and ``api``, the
PySpark names the engine hands in (see :mod:`distlab.workloads.tpch_spark`), and returns
the answer's DataFrame; the engine reduces it to the question's summary in Spark. Every
question has a PySpark form: ``median`` is exact (as SQL's and pandas'), ``stddev`` the
sample's, the top two per group a window's ``row_number``, and ``corr`` an aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Tables = Mapping[str, Any]


def q1(t: Tables, api: Any) -> Any:
    return t["x"].groupBy("id1").agg(api.F.sum("v1").alias("v1"))


def q2(t: Tables, api: Any) -> Any:
    return t["x"].groupBy("id1", "id2").agg(api.F.sum("v1").alias("v1"))


def q3(t: Tables, api: Any) -> Any:
    F = api.F
    return t["x"].groupBy("id3").agg(F.sum("v1").alias("v1"), F.avg("v3").alias("v3"))


def q4(t: Tables, api: Any) -> Any:
    F = api.F
    return (
        t["x"]
        .groupBy("id4")
        .agg(F.avg("v1").alias("v1"), F.avg("v2").alias("v2"), F.avg("v3").alias("v3"))
    )


def q5(t: Tables, api: Any) -> Any:
    F = api.F
    return (
        t["x"]
        .groupBy("id6")
        .agg(F.sum("v1").alias("v1"), F.sum("v2").alias("v2"), F.sum("v3").alias("v3"))
    )


def q6(t: Tables, api: Any) -> Any:
    F = api.F
    return (
        t["x"]
        .groupBy("id4", "id5")
        .agg(F.median("v3").alias("median_v3"), F.stddev("v3").alias("sd_v3"))
    )


def q7(t: Tables, api: Any) -> Any:
    F = api.F
    out = t["x"].groupBy("id3").agg((F.max("v1") - F.min("v2")).alias("range_v1_v2"))
    return out


def q8(t: Tables, api: Any) -> Any:
    F = api.F
    by_v3 = api.Window.partitionBy("id6").orderBy(F.col("v3").desc())
    ranked = (
        t["x"]
        .filter(F.col("v3").isNotNull())
        .select(
            "id6", F.col("v3").alias("largest2_v3"), F.row_number().over(by_v3).alias("order_v3")
        )
    )
    return ranked.filter(F.col("order_v3") <= 2).select("id6", "largest2_v3")


def q9(t: Tables, api: Any) -> Any:
    F = api.F
    return t["x"].groupBy("id2", "id4").agg(F.pow(F.corr("v1", "v2"), 2).alias("r2"))


def q10(t: Tables, api: Any) -> Any:
    F = api.F
    keys = ("id1", "id2", "id3", "id4", "id5", "id6")
    return t["x"].groupBy(*keys).agg(F.sum("v3").alias("v3"), F.count(F.lit(1)).alias("n"))


#: the questions' PySpark forms (``Query.frames["spark"]``)
FRAMES: dict[str, Callable[[Tables, Any], Any]] = {
    "q1": q1, "q2": q2, "q3": q3, "q4": q4, "q5": q5,
    "q6": q6, "q7": q7, "q8": q8, "q9": q9, "q10": q10,
}  # fmt: skip

#: questions PySpark's DataFrame API cannot express: none of the ten
NOT_EXPRESSIBLE: dict[str, str] = {}
