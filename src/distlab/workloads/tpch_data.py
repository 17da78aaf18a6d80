"""TPC-H tables made here, as Parquet, cached by scale factor with a checksum.

``tpchgen-cli`` (the Rust port of TPC-H's dbgen, a wheel on PyPI) writes the eight
tables; each is then rewritten once, row group by row group, with plain ``string``
columns instead of the generator's ``string_view`` (Daft and the JVM readers do not read
that Arrow type; the Parquet data is the same). The folder holds a manifest with each
file's size and sha256; a folder without one (an interrupted generation) is made again.

Where: ``<data_dir>/tpch/sf<SF>``; ``data_dir`` defaults to ``~/.cache/distlab/data``
(``$DISTLAB_DATA_DIR`` overrides it): data persists between runs and never lands in /tmp.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from distlab.contracts import DistlabError

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
MANIFEST = "manifest.json"
GENERATOR = "tpchgen-cli"


def data_root(data_dir: str | None = None) -> Path:
    if data_dir:
        return Path(data_dir)
    if os.environ.get("DISTLAB_DATA_DIR"):
        return Path(os.environ["DISTLAB_DATA_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "distlab" / "data"


def scale_name(sf: float) -> str:
    return f"sf{sf:g}"


def generator() -> str:
    """The generator next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / GENERATOR
    found = str(beside) if beside.exists() else shutil.which(GENERATOR)
    if not found:
        raise DistlabError(f"{GENERATOR} is not installed: pip install 'distlab[tpch]'")
    return found


def tables(sf: float, data_dir: str | None = None) -> dict[str, Path]:
    """The tables at scale factor ``sf`` (made now when not cached): name -> file."""
    if sf <= 0:
        raise DistlabError(f"a TPC-H scale factor must be above 0, got {sf:g}")
    folder = data_root(data_dir) / "tpch" / scale_name(sf)
    if not (folder / MANIFEST).exists():
        _generate(sf, folder)
    return {name: folder / f"{name}.parquet" for name in TABLES}


def manifest_of(table_file: Path) -> dict[str, Any]:
    """The manifest of the data set a table file belongs to."""
    return json.loads((Path(table_file).parent / MANIFEST).read_text())


def data_checksum(manifest: dict[str, Any]) -> str:
    """One checksum for a data set, from its manifest's file checksums."""
    files = manifest["files"]
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}:{files[name]['sha256']}\n".encode())
    return "sha256:" + digest.hexdigest()[:16]


def _generate(sf: float, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    done = subprocess.run(
        [generator(), "parquet", "-s", f"{sf:g}", "--output-dir", str(partial / "raw")],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise DistlabError(f"{GENERATOR} failed: {(done.stderr or done.stdout).strip()[:300]}")
    files: dict[str, dict[str, object]] = {}
    for name in TABLES:
        source = pq.ParquetFile(partial / "raw" / f"{name}.parquet")
        schema = pa.schema(
            [
                f.with_type(pa.string()) if f.type == pa.string_view() else f
                for f in source.schema_arrow
            ]
        )
        target = partial / f"{name}.parquet"
        with pq.ParquetWriter(target, schema, compression="snappy") as writer:
            for i in range(source.num_row_groups):
                writer.write_table(source.read_row_group(i).cast(schema))
        files[name] = {"bytes": target.stat().st_size, "sha256": sha256_of(target),
                       "rows": source.metadata.num_rows}  # fmt: skip
    shutil.rmtree(partial / "raw")
    (partial / MANIFEST).write_text(json.dumps({"scale_factor": sf, "files": files}, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
