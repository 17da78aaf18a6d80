"""db-benchmark's groupby questions 1-10 over the table ``x``, as SQL and in the pandas API.

The SQL is db-benchmark's own (its DuckDB and Spark scripts) with two changes every
engine takes: q4 averages the integer columns as DOUBLE (Flink SQL's avg of an INT column
is an INT, truncated: the others' is a double either way), and q10 names its row count
``n``, not ``count`` (a reserved word Flink's parser refuses as an alias); the answer is reduced to
db-benchmark's ``chk`` by the engine: the row count and the sum of each measure column
(``Query.summary``), so an answer of ten million groups is checked without moving it.
The pandas form is what a pandas user writes, vectorised; two questions differ from
db-benchmark's pandas script, which calls Python per group: q8 (largest two v3 per id6)
sorts and takes each group's head, q9 (squared correlation of v1 and v2 per id2, id4)
is computed from per-group sums (n, Σx, Σy, Σx², Σy², Σxy) instead of calling
``corr()`` once per group; both give the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Tables = Mapping[str, Any]

SQL = {
    "q1": "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1",
    "q2": "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
    "q3": "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
    "q4": (
        "SELECT id4, avg(CAST(v1 AS DOUBLE)) AS v1, avg(CAST(v2 AS DOUBLE)) AS v2, "
        "avg(v3) AS v3 FROM x GROUP BY id4"
    ),
    "q5": "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
    "q6": "SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5",
    "q7": "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3",
    "q8": (
        "SELECT id6, largest2_v3 FROM (SELECT id6, v3 AS largest2_v3, row_number() OVER "
        "(PARTITION BY id6 ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) AS "
        "sub_query WHERE order_v3 <= 2"
    ),
    "q9": "SELECT id2, id4, power(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
    "q10": (
        "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS n "
        "FROM x GROUP BY id1, id2, id3, id4, id5, id6"
    ),
}

#: each question's measure columns: what its checksum sums
MEASURES = {
    "q1": ("v1",),
    "q2": ("v1",),
    "q3": ("v1", "v3"),
    "q4": ("v1", "v2", "v3"),
    "q5": ("v1", "v2", "v3"),
    "q6": ("median_v3", "sd_v3"),
    "q7": ("range_v1_v2",),
    "q8": ("largest2_v3",),
    "q9": ("r2",),
    "q10": ("v3", "n"),
}


def q1(t: Tables) -> Any:
    return t["x"].groupby("id1").agg(v1=("v1", "sum")).reset_index()


def q2(t: Tables) -> Any:
    return t["x"].groupby(["id1", "id2"]).agg(v1=("v1", "sum")).reset_index()


def q3(t: Tables) -> Any:
    return t["x"].groupby("id3").agg(v1=("v1", "sum"), v3=("v3", "mean")).reset_index()


def q4(t: Tables) -> Any:
    return (
        t["x"].groupby("id4").agg(v1=("v1", "mean"), v2=("v2", "mean"), v3=("v3", "mean"))
    ).reset_index()


def q5(t: Tables) -> Any:
    return (
        t["x"].groupby("id6").agg(v1=("v1", "sum"), v2=("v2", "sum"), v3=("v3", "sum"))
    ).reset_index()


def q6(t: Tables) -> Any:
    grouped = t["x"].groupby(["id4", "id5"])
    return grouped.agg(median_v3=("v3", "median"), sd_v3=("v3", "std")).reset_index()


def q7(t: Tables) -> Any:
    out = t["x"].groupby("id3").agg(v1=("v1", "max"), v2=("v2", "min")).reset_index()
    return out.assign(range_v1_v2=out.v1 - out.v2)[["id3", "range_v1_v2"]]


def q8(t: Tables) -> Any:
    x = t["x"][["id6", "v3"]]
    # ~isna: Dask's Series has no notna (a running count per group instead of head fails
    # in Dask's distributed shuffle: the filter's alignment mixes column name types)
    top = x[~x.v3.isna()].sort_values("v3", ascending=False).groupby("id6").head(2)
    return top.rename(columns={"v3": "largest2_v3"})


def q9(t: Tables) -> Any:
    x = t["x"][["id2", "id4", "v1", "v2"]].astype({"v1": "float64", "v2": "float64"})
    x = x.assign(v11=x.v1 * x.v1, v22=x.v2 * x.v2, v12=x.v1 * x.v2)
    s = (
        x.groupby(["id2", "id4"])
        .agg(n=("v1", "count"), a=("v1", "sum"), b=("v2", "sum"), aa=("v11", "sum"),
             bb=("v22", "sum"), ab=("v12", "sum"))
        .reset_index()
    )  # fmt: skip
    cov = s.n * s.ab - s.a * s.b
    r2 = cov * cov / ((s.n * s.aa - s.a * s.a) * (s.n * s.bb - s.b * s.b))
    return s.assign(r2=r2)[["id2", "id4", "r2"]]


def q10(t: Tables) -> Any:
    keys = ["id1", "id2", "id3", "id4", "id5", "id6"]
    return t["x"].groupby(keys).agg(v3=("v3", "sum"), n=("v1", "count")).reset_index()


FRAMES = {
    "q1": q1, "q2": q2, "q3": q3, "q4": q4, "q5": q5,
    "q6": q6, "q7": q7, "q8": q8, "q9": q9, "q10": q10,
}  # fmt: skip
