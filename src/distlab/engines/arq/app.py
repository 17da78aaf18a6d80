"""The arq worker settings the arq engine's workers load (``arq
distlab.engines.arq.app.WorkerSettings``), built at import from the environment
(distlab.engines.common.queue_config). arq runs coroutines: the carried call, synchronous,
runs inside one, blocking its worker's event loop while it runs: a process holds up to
``max_jobs`` jobs (arq's default 10) but runs one at a time."""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings
from arq.worker import func

from distlab.engines.common import carried
from distlab.engines.common.queue_config import CONFIG_ENV, config, exit_with_driver

RUN_JOB = "distlab_run"
NOOP_JOB = "distlab_noop"


async def run(ctx: dict, call: str) -> str:
    return carried.run_carried(call)


async def noop(ctx: dict, i: int, work_ms: float = 0.0) -> int:
    return carried.noop(i, work_ms)


def worker_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "functions": [func(run, name=RUN_JOB), func(noop, name=NOOP_JOB)],
        "redis_settings": RedisSettings.from_dsn(settings["url"]),
        "queue_name": settings["queue"],
        "max_jobs": settings["max_jobs"],
        "job_timeout": settings["job_timeout"],
        "max_tries": settings["max_tries"],
        "handle_signals": True,
    }


if os.environ.get(CONFIG_ENV):  # imported by `arq` in a worker process
    WorkerSettings = type("WorkerSettings", (), worker_settings(config()))
    exit_with_driver()
