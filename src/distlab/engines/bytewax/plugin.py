"""Bytewax, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin

PLUGIN = EnginePlugin(
    name="bytewax",
    engine="distlab.engines.bytewax.engine:BytewaxEngine",
    shapes=frozenset({"streams"}),
    extra="bytewax",
    probe=("bytewax", "confluent_kafka"),
    libraries=("bytewax", "confluent-kafka"),
    deploy_why="not built yet: distlab starts Bytewax's processes on this machine only",
)
