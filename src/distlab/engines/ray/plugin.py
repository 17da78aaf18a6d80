"""Ray, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="ray",
    engine="distlab.engines.ray.engine:RayEngine",
    shapes=frozenset({"tasks", "batch", "streams", "dataframe"}),
    capabilities=frozenset({"supports_resources", "supports_actors", "supports_shared_objects"}),
    extra="ray",
    probe=("ray",),
    libraries=("ray",),
    deploy="distlab.engines.ray.hosts:deploy",
    options=(
        Option("gpus", int, None, "logical GPUs of the embedded node (not set: Ray's own count)",
               minimum=0),
        Option("resources", dict, {}, "custom named resources of the embedded node"),
    ),
)  # fmt: skip
