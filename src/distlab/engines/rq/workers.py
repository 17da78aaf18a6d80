"""The ``rq worker-pool`` CLI as the rq engine starts it, and the settings its workers
read: here, without importing RQ, so the engine (on one machine) and its deployment
across test hosts (hosts.py) start the same workers."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def rq_command() -> str:
    """The ``rq`` script of this environment (next to its python), else on PATH."""
    beside = Path(sys.executable).parent / "rq"
    return str(beside) if beside.exists() else (shutil.which("rq") or "rq")


def worker_command(url: str, queue: str, workers: int) -> list[str]:
    """RQ's own pool of ``workers`` workers serving ``queue`` on the Redis at ``url``."""
    return [rq_command(), "worker-pool", "--url", url, "--num-workers", str(workers),
            "--logging-level", "WARNING", queue]  # fmt: skip


def worker_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's options recorded with its workers' config (RQ's workers take theirs
    from the command line and from each job)."""
    return {"retries": options["retries"]}


def worker_commands(config: Mapping[str, Any], workers: int) -> list[list[str]]:
    """One ``rq worker-pool`` serving ``config["queue"]`` on ``config["url"]``."""
    return [worker_command(config["url"], config["queue"], workers)]
