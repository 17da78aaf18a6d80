"""db-benchmark's groupby table G1, made by a deterministic generator of ours, as Parquet.

N rows, K groups (db-benchmark's ``groupby-datagen.R``, without missing values):
id1, id2 are ``id001``..``id{K}`` (text), id3 is ``id0000000001``..``id{N/K}`` (text),
id4, id5 are 1..K, id6 is 1..N/K (int64), v1 is 1..5, v2 is 1..15 (int64), v3 a uniform
number in [0, 100) rounded to 6 decimals (float64). Each column is drawn from its own
stream of NumPy's PCG64 seeded with (SEED, column): same N and K, same bytes. The table
is written in row groups of 1,000,000 rows so parallel readers split it.

Cached like the TPC-H tables (:mod:`distlab.workloads.tpch_data`): ``<data>/groupby/
G1_<N>_<K>/x.parquet`` with a manifest of its size and sha256.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from distlab.contracts import DistlabError
from distlab.workloads.tpch_data import MANIFEST, data_root, sha256_of

SEED = 2004
ROW_GROUP = 1_000_000


def table(rows: int, groups: int, data_dir: str | None = None) -> Path:
    """The G1 table of ``rows`` rows and ``groups`` groups (made now when not cached)."""
    if rows < 1 or groups < 1 or groups > rows:
        raise DistlabError(f"groupby needs 1 <= groups <= rows, got rows={rows}, groups={groups}")
    folder = data_root(data_dir) / "groupby" / f"G1_{rows:.0e}_{groups:.0e}".replace("+", "")
    if not (folder / MANIFEST).exists():
        _generate(rows, groups, folder)
    return folder / "x.parquet"


def _column_rng(column: str) -> np.random.Generator:
    return np.random.default_rng([SEED, sum(ord(c) << (8 * i) for i, c in enumerate(column))])


def _ids(width: int, count: int) -> list[str]:
    return [f"id{i:0{width}d}" for i in range(1, count + 1)]


def _generate(rows: int, groups: int, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    small_text = pa.array(_ids(3, groups))
    large_count = max(1, rows // groups)
    large_text = pa.array(_ids(10, large_count))
    schema = pa.schema(
        [("id1", pa.string()), ("id2", pa.string()), ("id3", pa.string()),
         ("id4", pa.int64()), ("id5", pa.int64()), ("id6", pa.int64()),
         ("v1", pa.int64()), ("v2", pa.int64()), ("v3", pa.float64())]
    )  # fmt: skip
    draws = {name: _column_rng(name) for name in schema.names}
    target = partial / "x.parquet"
    with pq.ParquetWriter(target, schema, compression="snappy") as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            columns = {
                "id1": small_text.take(draws["id1"].integers(0, groups, n)),
                "id2": small_text.take(draws["id2"].integers(0, groups, n)),
                "id3": large_text.take(draws["id3"].integers(0, large_count, n)),
                "id4": draws["id4"].integers(1, groups + 1, n),
                "id5": draws["id5"].integers(1, groups + 1, n),
                "id6": draws["id6"].integers(1, large_count + 1, n),
                "v1": draws["v1"].integers(1, 6, n),
                "v2": draws["v2"].integers(1, 16, n),
                "v3": np.round(draws["v3"].uniform(0, 100, n), 6),
            }
            writer.write_table(pa.table(columns, schema=schema))
    files = {"x": {"bytes": target.stat().st_size, "sha256": sha256_of(target), "rows": rows}}
    (partial / MANIFEST).write_text(
        json.dumps({"rows": rows, "groups": groups, "seed": SEED, "files": files}, indent=1)
    )
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
