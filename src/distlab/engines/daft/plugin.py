"""Daft, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin

PLUGIN = EnginePlugin(
    name="daft",
    engine="distlab.engines.daft.engine:DaftEngine",
    shapes=frozenset({"dataframe"}),
    extra="daft",
    probe=("daft",),
    libraries=("daft",),
    deploy="distlab.engines.daft.hosts:deploy",
)
