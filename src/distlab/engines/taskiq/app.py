"""The Taskiq broker shared by the driver and the workers the taskiq engine starts
(``taskiq worker distlab.engines.taskiq.app:broker``): the worker builds it at import
from its environment (distlab.engines.common.queue_config), the driver with
``make_broker``."""

from __future__ import annotations

import os
from typing import Any

from taskiq import AsyncBroker
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend, RedisStreamBroker

from distlab.engines.common import carried
from distlab.engines.common.queue_config import CONFIG_ENV, config, exit_with_driver

#: results are kept this long (seconds) unless read: a driver that died leaves none behind
RESULT_EXPIRY_S = 3600


def make_broker(settings: dict[str, Any]) -> tuple[AsyncBroker, Any, Any]:
    """The broker with its Redis result backend, and its run and no-op tasks."""
    url, queue = settings["url"], settings["queue"]
    if settings["broker"] == "stream":
        base: AsyncBroker = RedisStreamBroker(
            url, queue_name=queue, consumer_group_name=queue,
            idle_timeout=settings["idle_timeout_ms"], socket_timeout=None,
        )  # fmt: skip
    else:
        # its BRPOP waits without a limit, and redis-py 8 gives every connection a 5 s
        # socket timeout: an idle worker would crash every 5 s (and be restarted)
        base = ListQueueBroker(url, queue_name=queue, socket_timeout=None)
    broker = base.with_result_backend(
        RedisAsyncResultBackend(redis_url=url, result_ex_time=RESULT_EXPIRY_S)
    )

    # functions of this broker's own: taskiq renames a function it registers (and puts it
    # back in its module under the new name), which would change carried.run_carried for
    # every other queue in this process (RQ sends it by name)
    def run(call: str) -> str:
        return carried.run_carried(call)

    def noop(i: int, work_ms: float = 0.0) -> int:
        return carried.noop(i, work_ms)

    return (
        broker,
        broker.register_task(run, task_name="distlab_run"),
        broker.register_task(noop, task_name="distlab_noop"),
    )


if os.environ.get(CONFIG_ENV):  # imported by `taskiq worker` in a worker process
    broker, _run, _noop = make_broker(config())
    exit_with_driver()
