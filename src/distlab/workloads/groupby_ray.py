"""db-benchmark's groupby questions 1-10 in Ray Data's API, as a Ray Data user writes them.

Each function takes the tables (``x`` -> ``ray.data.Dataset``) and ``api``, the Ray Data
names the engine hands in (see :mod:`distlab.workloads.tpch_ray`), and returns the
answer's Dataset; the engine reduces it to the question's summary.

Ray 2.60 has an aggregate for most questions: ``Sum``, ``Mean``, ``Min``, ``Max``,
``Count``, ``Std`` (sample, as SQL's stddev) and ``Quantile`` (exact: it gathers each
group's values and interpolates linearly, as SQL's median). Two have none:

* q8, the largest two v3 per id6: no top-k per group (``ApproximateTopK`` counts the most
  frequent values, not the largest), so each group is sorted in a function of its own
  (``groupby(...).map_groups``), as db-benchmark's pandas script does per group.
* q9, corr(v1, v2)²: no correlation aggregate, so it comes from per-group sums (n, Σx,
  Σy, Σx², Σy², Σxy) and an expression, as the pandas form does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Tables = Mapping[str, Any]


def q1(t: Tables, api: Any) -> Any:
    return t["x"].groupby("id1").aggregate(api.Sum(on="v1", alias_name="v1"))


def q2(t: Tables, api: Any) -> Any:
    return t["x"].groupby(["id1", "id2"]).aggregate(api.Sum(on="v1", alias_name="v1"))


def q3(t: Tables, api: Any) -> Any:
    return (
        t["x"]
        .groupby("id3")
        .aggregate(api.Sum(on="v1", alias_name="v1"), api.Mean(on="v3", alias_name="v3"))
    )


def q4(t: Tables, api: Any) -> Any:
    return (
        t["x"].groupby("id4").aggregate(*(api.Mean(on=v, alias_name=v) for v in ("v1", "v2", "v3")))
    )


def q5(t: Tables, api: Any) -> Any:
    return (
        t["x"].groupby("id6").aggregate(*(api.Sum(on=v, alias_name=v) for v in ("v1", "v2", "v3")))
    )


def q6(t: Tables, api: Any) -> Any:
    return (
        t["x"]
        .groupby(["id4", "id5"])
        .aggregate(
            api.Quantile(on="v3", q=0.5, alias_name="median_v3"),
            api.Std(on="v3", alias_name="sd_v3"),
        )
    )


def q7(t: Tables, api: Any) -> Any:
    col = api.col
    out = (
        t["x"]
        .groupby("id3")
        .aggregate(api.Max(on="v1", alias_name="v1"), api.Min(on="v2", alias_name="v2"))
    )
    out = out.with_columns({"range_v1_v2": col("v1") - col("v2")})
    return out.select_columns(["id3", "range_v1_v2"])


def _largest_two(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One id6 group's two largest v3 (a group as NumPy columns)."""
    top = np.argsort(-group["v3"], kind="stable")[:2]
    return {"id6": group["id6"][top], "largest2_v3": group["v3"][top]}


def q8(t: Tables, api: Any) -> Any:
    x = t["x"].select_columns(["id6", "v3"]).filter(expr=api.col("v3").is_not_null())
    return x.groupby("id6").map_groups(_largest_two, batch_format="numpy")


def q9(t: Tables, api: Any) -> Any:
    col = api.col
    x = t["x"].select_columns(["id2", "id4", "v1", "v2"])
    # floats: Arrow divides integers as integers
    x = x.with_columns({"a": col("v1").cast(api.float64), "b": col("v2").cast(api.float64)})
    x = x.with_columns({"aa": col("a") * col("a"), "bb": col("b") * col("b"),
                        "ab": col("a") * col("b")})  # fmt: skip
    s = x.groupby(["id2", "id4"]).aggregate(
        api.Count(alias_name="n"),
        *(api.Sum(on=c, alias_name=c) for c in ("a", "b", "aa", "bb", "ab")),
    )
    n, a, b = col("n"), col("a"), col("b")
    cov = n * col("ab") - a * b
    r2 = cov * cov / ((n * col("aa") - a * a) * (n * col("bb") - b * b))
    return s.with_columns({"r2": r2}).select_columns(["id2", "id4", "r2"])


def q10(t: Tables, api: Any) -> Any:
    keys = ["id1", "id2", "id3", "id4", "id5", "id6"]
    return (
        t["x"].groupby(keys).aggregate(api.Sum(on="v3", alias_name="v3"), api.Count(alias_name="n"))
    )


#: the questions' Ray Data forms (``Query.frames["ray"]``)
FRAMES: dict[str, Callable[[Tables, Any], Any]] = {
    "q1": q1, "q2": q2, "q3": q3, "q4": q4, "q5": q5,
    "q6": q6, "q7": q7, "q8": q8, "q9": q9, "q10": q10,
}  # fmt: skip

#: questions Ray Data cannot express (``Query.not_expressible["ray"]``): none (see above)
NOT_EXPRESSIBLE: dict[str, str] = {}
