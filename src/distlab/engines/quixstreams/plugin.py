"""Quix Streams, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin

PLUGIN = EnginePlugin(
    name="quixstreams",
    engine="distlab.engines.quixstreams.engine:QuixstreamsEngine",
    shapes=frozenset({"streams"}),
    extra="quixstreams",
    probe=("quixstreams", "confluent_kafka"),
    libraries=("quixstreams", "confluent-kafka"),
    deploy_why="not built yet: distlab starts the application's processes on this machine only",
)
