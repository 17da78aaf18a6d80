"""DuckDB, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="duckdb",
    engine="distlab.engines.duckdb.engine:DuckdbEngine",
    shapes=frozenset({"dataframe"}),
    extra="duckdb",
    probe=("duckdb",),
    libraries=("duckdb",),
    deploy_why="DuckDB is an in-process database on one machine",
    options=(
        Option("memory_limit", str, None,
               "DuckDB's memory_limit (e.g. '8GB'; default: its own, 80% of RAM); past it, "
               "DuckDB spills to its temp_directory"),
    ),
)  # fmt: skip
