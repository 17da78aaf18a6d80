"""The Dramatiq broker and actor shared by the driver and the workers the dramatiq engine
starts (``dramatiq distlab.engines.dramatiq.app``): the worker builds them at import from
its environment (distlab.engines.common.queue_config), the driver with ``make_broker``."""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

from distlab.engines.common import carried
from distlab.engines.common.queue_config import CONFIG_ENV, config, exit_with_driver

RUN_ACTOR = "distlab_run"
NOOP_ACTOR = "distlab_noop"


def make_broker(settings: dict[str, Any]) -> tuple[RedisBroker, RedisBackend, dict[str, Any]]:
    """The broker with the Results middleware, and the two actors on the engine's queue."""
    broker = RedisBroker(
        url=settings["url"],
        heartbeat_timeout=settings["heartbeat_timeout_ms"],
        maintenance_chance=settings["maintenance_chance"],
    )
    backend = RedisBackend(url=settings["url"])
    broker.add_middleware(Results(backend=backend))
    queue = settings["queue"]
    actors = {
        RUN_ACTOR: dramatiq.actor(
            carried.run_carried, broker=broker, actor_name=RUN_ACTOR, queue_name=queue,
            store_results=True,
        ),
        NOOP_ACTOR: dramatiq.actor(
            carried.noop, broker=broker, actor_name=NOOP_ACTOR, queue_name=queue,
            store_results=True,
        ),
    }  # fmt: skip
    return broker, backend, actors


if os.environ.get(CONFIG_ENV):  # imported by `dramatiq` in a worker process
    broker, _backend, _actors = make_broker(config())
    dramatiq.set_broker(broker)
    exit_with_driver()
