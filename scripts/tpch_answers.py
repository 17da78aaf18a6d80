"""Write the TPC-H answer sets distlab checks against (src/distlab/workloads/tpch_answers).

At SF 1 the answers are TPC-H's own: the qualification answer set its kit ships
(``dbgen/answers/q*.out`` of the TPC-H 3.0.1 tools, values printed to two decimals),
read from a checkout of the kit given as ``--kit``. At SF 0.01 and 0.1 TPC-H publishes
none; those are the answer sets DuckDB's tpch extension carries (``tpch_answers()``),
except Q13's: the extension's own generator writes other comment text than TPC-H's
dbgen (its SF 1 Q13 answer has 50004 customers without orders where TPC-H's has 50005),
and Q13 filters on the comments, so at those scales Q13 is checked by the agreement of
the engines instead. They are read once, here, and kept in the repository as
pipe-delimited text, so no engine under test computes the reference.

The extension loads only into the DuckDB it was built for, so this runs in a throwaway
environment of its own:

    uv run --no-project --with duckdb==1.5.5 --with duckdb-extension-tpch==1.5.5 \
        python scripts/tpch_answers.py --kit path/to/tpch-kit
"""

from __future__ import annotations

import argparse
import json
import pathlib

import duckdb
import duckdb_extension_tpch

QUERIES = (1, 3, 5, 6, 9, 13, 18)
#: the scales DuckDB's answers are taken at, and the query whose answers there are not
DUCKDB_SCALES = (0.01, 0.1)
COMMENT_DEPENDENT = 13
OUT = pathlib.Path(__file__).resolve().parent.parent / "src/distlab/workloads/tpch_answers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=pathlib.Path, required=True, help="a TPC-H kit checkout")
    kit = parser.parse_args().kit
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.tbl"):
        old.unlink()
    for query in QUERIES:
        official = (kit / "dbgen" / "answers" / f"q{query}.out").read_text(encoding="utf-8")
        lines = [
            "|".join(cell.strip() for cell in line.split("|")) for line in official.splitlines()
        ]
        write(OUT / f"q{query}-sf1.tbl", "\n".join(line for line in lines if line.strip()))
    root = pathlib.Path(duckdb_extension_tpch.__file__).parent
    (extension,) = root.glob("extensions/*/tpch.duckdb_extension")
    con = duckdb.connect()
    con.execute(f"LOAD '{extension}'")
    for query in QUERIES:
        if query == COMMENT_DEPENDENT:
            continue
        for scale in DUCKDB_SCALES:
            (answer,) = con.execute(
                "SELECT answer FROM tpch_answers() WHERE query_nr = ? AND scale_factor = ?",
                [query, scale],
            ).fetchone()
            write(OUT / f"q{query}-sf{scale:g}.tbl", answer)
    write_sources()


def write_sources() -> None:
    """Whose answers are kept at each scale: what a cell checked against says."""
    sources = {"1": "TPC-H answer set (TPC-H 3.0.1 kit)"}
    sources |= {f"{s:g}": "DuckDB tpch extension's answer set" for s in DUCKDB_SCALES}
    (OUT / "sources.json").write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")


def write(path: pathlib.Path, text: str) -> None:
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(path.name, len(text.strip().splitlines()) - 1, "rows")


if __name__ == "__main__":
    main()
