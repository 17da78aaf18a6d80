"""The ``huey_consumer`` CLI as the huey engine starts it, and the settings its consumer
reads: here, without importing Huey, so the engine (on one machine) and its deployment
across test hosts (hosts.py) start the same consumer."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def consumer_command(workers: int, worker_type: str) -> list[str]:
    """Huey's consumer of the engine's Huey instance (app.huey), ``workers`` of a kind."""
    script = Path(sys.executable).parent / "huey_consumer"
    return [str(script), "distlab.engines.huey.app.huey", "--workers", str(workers),
            "--worker-type", worker_type, "--quiet"]  # fmt: skip


def worker_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's options the consumer's Huey instance is built with (app.make_huey);
    SQLite storage adds its file, which only the engine knows (its own directory)."""
    return {
        "storage": options["storage"],
        "worker_type": options["worker_type"],
        "retries": options["retries"],
    }


def worker_commands(config: Mapping[str, Any], workers: int) -> list[list[str]]:
    """One ``huey_consumer`` with ``workers`` workers of ``config["worker_type"]``."""
    return [consumer_command(workers, config["worker_type"])]
