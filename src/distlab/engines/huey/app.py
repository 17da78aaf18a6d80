"""The Huey instance shared by the driver and the consumer the huey engine starts
(``huey_consumer distlab.engines.huey.app.huey``): the consumer builds it at import from
its environment (distlab.engines.common.queue_config), the driver with ``make_huey``."""

from __future__ import annotations

import os
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from distlab.engines.common import carried
from distlab.engines.common.queue_config import CONFIG_ENV, config, exit_with_driver


def make_huey(settings: dict[str, Any]) -> tuple[Huey, Any, Any]:
    """The Huey instance for the engine's queue, and its run and no-op tasks."""
    if settings["storage"] == "sqlite":
        huey = SqliteHuey(name=settings["queue"], filename=settings["sqlite_file"])
    else:
        huey = RedisHuey(name=settings["queue"], url=settings["url"])
    run = huey.task(retries=settings["retries"], name="distlab_run")(carried.run_carried)
    noop = huey.task(name="distlab_noop")(carried.noop)
    return huey, run, noop


if os.environ.get(CONFIG_ENV):  # imported by huey_consumer in a worker process
    huey, _run, _noop = make_huey(config())
    exit_with_driver()
