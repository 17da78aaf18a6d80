"""The local process pool, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="local",
    engine="distlab.engines.local.engine:LocalEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"supports_resources"}),
    extra="all",
    deploy_why="a process pool lives on one machine",
    options=(
        Option("gpus", int, 0, "logical GPUs: a task asking {'GPU': 1} holds one unit id",
               minimum=0),
        Option("resources", dict, {}, "other named resources and their whole-unit totals"),
    ),
)  # fmt: skip
