"""Dask distributed, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="dask",
    engine="distlab.engines.dask.engine:DaskEngine",
    shapes=frozenset({"tasks", "batch", "streams", "dataframe"}),
    capabilities=frozenset({"supports_resources", "supports_actors", "supports_shared_objects"}),
    extra="dask",
    probe=("distributed",),
    libraries=("distributed", "dask"),
    deploy="distlab.engines.dask.hosts:deploy",
    options=(
        Option("threads", int, 1, "threads per worker process (embedded cluster)", minimum=1),
        Option("gpus", int, 0, "logical GPUs, split across the workers", minimum=0),
        Option("resources", dict, {}, "other named resources, split across the workers"),
    ),
)
