"""Polars, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin

PLUGIN = EnginePlugin(
    name="polars",
    engine="distlab.engines.polars.engine:PolarsEngine",
    shapes=frozenset({"dataframe"}),
    extra="polars",
    probe=("polars",),
    libraries=("polars",),
    deploy_why="Polars runs in one process on one machine",
)
